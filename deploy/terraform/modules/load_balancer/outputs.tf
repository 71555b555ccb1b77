output "ip_address" {
  description = "The load balancer's global address, for the DNS A record."
  value       = google_compute_global_address.api.address
}

output "backend_service_name" {
  description = "Backend service name, for the monitoring filters (request count, latency by backend)."
  value       = google_compute_backend_service.api.name
}
