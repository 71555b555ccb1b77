output "policy_id" {
  description = "Id of the security policy, attached to the load balancer's backend service."
  value       = google_compute_security_policy.edge.id
}
