# The Firestore database and everything tally's queries and records need from it.
#
# Indexes and field overrides are read from firestore.indexes.json (the Firebase CLI's format), the
# one declaration of what tally needs: the Go tests in terraform/ run tally against the emulator,
# capture every query it makes and fail if one needs an index this file lacks, or if a field it
# exempts from indexing is one a query uses.

locals {
  firestore_indexes = jsondecode(file("${path.module}/firestore.indexes.json"))

  # Keyed by collection group, scope and fields, so that an index keeps its address when others
  # are added to or removed from the file.
  composite_indexes = {
    for index in local.firestore_indexes.indexes :
    join("/", concat([index.collectionGroup, index.queryScope], [for f in index.fields : "${f.fieldPath}:${try(f.order, f.arrayConfig)}"])) => index
  }

  field_overrides = {
    for o in local.firestore_indexes.fieldOverrides : "${o.collectionGroup}/${o.fieldPath}" => o
  }
}

resource "google_firestore_database" "tally" {
  project     = var.project_id
  name        = var.database_id
  location_id = var.database_location
  type        = "FIRESTORE_NATIVE"

  # tally's resize, reset and delete read every shard of a counter in a transaction so that the
  # increments racing them wait instead of aborting them (shard/admin.go): pessimistic locking,
  # the default of native databases, stated here so that it cannot drift.
  concurrency_mode            = "PESSIMISTIC"
  app_engine_integration_mode = "DISABLED"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # ABANDON: terraform destroy forgets the database and leaves the counters in place.
  deletion_policy = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

resource "google_firestore_backup_schedule" "tally" {
  count = var.backup_recurrence == "none" ? 0 : 1

  project   = var.project_id
  database  = google_firestore_database.tally.name
  retention = "${var.backup_retention_days * 86400}s"

  dynamic "daily_recurrence" {
    for_each = var.backup_recurrence == "daily" ? [1] : []
    content {}
  }

  dynamic "weekly_recurrence" {
    for_each = var.backup_recurrence == "weekly" ? [1] : []
    content {
      day = "SUNDAY"
    }
  }

  lifecycle {
    precondition {
      condition     = var.backup_recurrence != "daily" || var.backup_retention_days <= 7
      error_message = "Daily Firestore backups are kept at most 7 days; lower backup_retention_days or use weekly backups."
    }
  }
}

# The composite indexes of tally's queries: the value of a counter is a SUM of count over its
# shards filtered on generation, which Firestore serves only from an index on both fields.
resource "google_firestore_index" "tally" {
  for_each = local.composite_indexes

  project     = var.project_id
  database    = google_firestore_database.tally.name
  collection  = each.value.collectionGroup
  query_scope = each.value.queryScope
  api_scope   = "ANY_API"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }
}

# Field overrides: the TTL policy that deletes idempotency records once their expire_at has
# passed, and single-field index exemptions for the fields tally writes on every increment but
# never queries (an exempt field costs no index writes). An override whose indexes list is empty
# exempts the field; a non-empty list replaces its automatic indexes with those given.
resource "google_firestore_field" "tally" {
  for_each = local.field_overrides

  project    = var.project_id
  database   = google_firestore_database.tally.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  dynamic "ttl_config" {
    for_each = try(each.value.ttl, false) ? [1] : []
    content {}
  }

  dynamic "index_config" {
    for_each = [each.value.indexes]
    content {
      dynamic "indexes" {
        for_each = index_config.value
        content {
          query_scope  = indexes.value.queryScope
          order        = try(indexes.value.order, null)
          array_config = try(indexes.value.arrayConfig, null)
        }
      }
    }
  }
}
