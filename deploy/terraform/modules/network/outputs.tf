output "network_id" {
  description = "Self link id of the VPC (Cloud SQL private_network, Memorystore authorized_network, Cloud Run egress)."
  value       = google_compute_network.vpc.id
}

output "subnetwork_id" {
  description = "Subnetwork that Cloud Run services and jobs egress through."
  value       = google_compute_subnetwork.run.id
}

output "private_services_connection" {
  description = "The private services access peering; Cloud SQL and Memorystore must be created after it."
  value       = google_service_networking_connection.private_services.id
}
