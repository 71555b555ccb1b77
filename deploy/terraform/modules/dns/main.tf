# The public zone with DNSSEC, and the A records pointing at the load balancer. Record sets are
# authoritative: Terraform overwrites any record of the same name and type made by hand.
resource "google_dns_managed_zone" "public" {
  project     = var.project_id
  name        = var.zone_name
  dns_name    = var.dns_name
  description = "Africa Business Bridge public zone"
  visibility  = "public"
  dnssec_config {
    state = "on"
    default_key_specs {
      algorithm  = "rsasha256"
      key_length = 2048
      key_type   = "keySigning"
    }
    default_key_specs {
      algorithm  = "rsasha256"
      key_length = 1024
      key_type   = "zoneSigning"
    }
  }
}

resource "google_dns_record_set" "a" {
  for_each     = var.records
  project      = var.project_id
  managed_zone = google_dns_managed_zone.public.name
  name         = each.key
  type         = "A"
  ttl          = 300
  rrdatas      = [each.value]
}
