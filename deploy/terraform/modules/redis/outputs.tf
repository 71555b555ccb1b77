output "host" {
  description = "Private address of the instance."
  value       = google_redis_instance.cache.host
}

output "port" {
  description = "TLS port of the instance (6378 with in-transit encryption)."
  value       = google_redis_instance.cache.port
}

output "server_ca_certs" {
  description = "PEM certificates of the server CA that clients verify TLS against (rotated every 180 days)."
  value       = [for cert in google_redis_instance.cache.server_ca_certs : cert.cert]
}

output "instance_id" {
  description = "Instance id, for the monitoring filters."
  value       = google_redis_instance.cache.id
}
