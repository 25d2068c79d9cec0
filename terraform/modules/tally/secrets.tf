# The token policy file lives in Secret Manager (token_secret_id); its latest version is mounted
# into the container as a file and tallyd reads it with --tokens-file, reloading it when it
# changes. The file holds only SHA-256 hashes of the tokens, never the tokens.

locals {
  tokens_dir  = "/etc/tally/tokens"
  tokens_file = "${local.tokens_dir}/tokens.json"
  use_tokens  = var.token_secret_id != null
}

resource "google_secret_manager_secret_iam_member" "tokens" {
  count = local.use_tokens ? 1 : 0

  project   = var.project_id
  secret_id = var.token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.tally.member
}
