output "name_servers" {
  description = "Name servers to delegate the domain to at the registrar."
  value       = google_dns_managed_zone.public.name_servers
}
