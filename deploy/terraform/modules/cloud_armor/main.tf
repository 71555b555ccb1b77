# Edge policy on the load balancer's backend: /metrics closed, OWASP CRS rules (SQLi, XSS, LFI, RFI, RCE,
# scanners, protocol attacks), Log4j, a rate-based ban per client IP, adaptive protection against L7 DDoS.
locals {
  waf_rules = {
    1000 = "sqli-v33-stable"
    1010 = "xss-v33-stable"
    1020 = "lfi-v33-stable"
    1030 = "rfi-v33-stable"
    1040 = "rce-v33-stable"
    1050 = "scannerdetection-v33-stable"
    1060 = "protocolattack-v33-stable"
    1070 = "sessionfixation-v33-stable"
  }
}

resource "google_compute_security_policy" "edge" {
  project     = var.project_id
  name        = var.name
  description = "Africa Business Bridge edge: WAF, rate limits, /metrics closed"
  type        = "CLOUD_ARMOR"

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "VERBOSE"
  }

  # Prometheus scrapes inside the VPC; the internet never sees the metrics.
  rule {
    action      = "deny(404)"
    priority    = 100
    description = "/metrics is not served to the internet"
    match {
      expr {
        expression = "request.path.startsWith('/metrics')"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 900
    description = "Log4j (CVE-2021-44228) probes"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      action      = "deny(403)"
      priority    = rule.key
      description = "OWASP CRS ${rule.value}"
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}', {'sensitivity': ${var.waf_sensitivity}})"
        }
      }
    }
  }

  rule {
    action      = "rate_based_ban"
    priority    = 2000
    description = "Per-IP rate limit; persistent offenders are banned"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
      ban_duration_sec = var.ban_duration_seconds
      ban_threshold {
        count        = var.ban_threshold_per_five_minutes
        interval_sec = 300
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow what no rule above stopped"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
