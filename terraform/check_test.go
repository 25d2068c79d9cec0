package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The configurations of the repository: the module and the example root that calls it.
var configDirs = []string{
	filepath.Join("modules", "tally"),
	filepath.Join("examples", "basic"),
}

func loadConfigT(t *testing.T, dir string) *config {
	t.Helper()
	cfg, err := loadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestEveryConfigMatchesTheProviderSchema is `terraform validate` without the provider: every
// .tf file of the repository is checked against the Google provider's schema.
func TestEveryConfigMatchesTheProviderSchema(t *testing.T) {
	schema := loadSchema(t)
	found := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir // .terraform and the like
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			found++
			dir := filepath.Dir(path)
			for _, known := range configDirs {
				if dir == known {
					return nil
				}
			}
			t.Errorf("%s is in %s, which the tests do not know: add it to configDirs", path, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no .tf files found")
	}
	for _, dir := range configDirs {
		t.Run(dir, func(t *testing.T) {
			for _, p := range checkConfig(schema, loadConfigT(t, dir)) {
				t.Error(p)
			}
		})
	}
}

// TestCheckerFindsEachKindOfMistake shows that each check can fail: every snippet has one
// mistake, which the checker must report.
func TestCheckerFindsEachKindOfMistake(t *testing.T) {
	schema := loadSchema(t)
	module, err := filepath.Abs(filepath.Join("modules", "tally"))
	if err != nil {
		t.Fatal(err)
	}
	const sa = `resource "google_service_account" "a" { account_id = "tally-run" }` + "\n"
	tests := []struct {
		name, tf, want string
	}{
		{"unknown resource type", `resource "google_cloud_run_v3_service" "s" {}`, `no resource type "google_cloud_run_v3_service"`},
		{"unknown data type", `data "google_nothing" "d" {}`, `no data source type "google_nothing"`},
		{"unknown argument", `resource "google_service_account" "a" {
  account_id = "x"
  acount_name = "y"
}`, `has no argument "acount_name"`},
		{"missing required argument", `resource "google_service_account" "a" {}`, `needs the argument "account_id"`},
		{"computed-only argument", `resource "google_service_account" "a" {
  account_id = "x"
  email = "x@y"
}`, `"email" is computed by the provider`},
		{"unknown nested block", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  ttl_policy {}
}`, `has no block "ttl_policy"`},
		{"unknown argument in a nested block", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  ttl_config {
    state = "ACTIVE"
  }
}`, `"state" is computed`},
		{"missing required block", `resource "google_cloud_run_v2_service" "s" {
  name = "n"
  location = "l"
}`, `needs a "template" block`},
		{"block given twice", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  ttl_config {}
  ttl_config {}
}`, `more than 1 "ttl_config"`},
		{"unknown dynamic block", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  dynamic "ttl" {
    for_each = [1]
    content {}
  }
}`, `no block "ttl" to make dynamically`},
		{"unknown argument inside dynamic content", `resource "google_firestore_index" "i" {
  collection = "c"
  dynamic "fields" {
    for_each = ["a", "b"]
    content {
      field_path = fields.value
      sort = "ASCENDING"
    }
  }
}`, `fields has no argument "sort"`},
		{"unknown argument deep inside nested dynamic content", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  dynamic "index_config" {
    for_each = [[]]
    content {
      dynamic "indexes" {
        for_each = index_config.value
        content {
          scope = indexes.value
        }
      }
    }
  }
}`, `indexes has no argument "scope"`},
		{"block used as an argument", `resource "google_firestore_field" "f" {
  collection = "c"
  field = "f"
  ttl_config = {}
}`, `"ttl_config" is a block, not an argument`},
		{"count and for_each", sa + `resource "google_project_iam_member" "m" {
  count = 1
  for_each = toset([])
  project = "p"
  role = "r"
  member = google_service_account.a.member
}`, `both count and for_each`},
		{"unknown lifecycle argument", `resource "google_service_account" "a" {
  account_id = "x"
  lifecycle {
    prevent_destruction = true
  }
}`, `lifecycle has no argument "prevent_destruction"`},
		{"undeclared variable", `resource "google_service_account" "a" { account_id = var.nope }`, `no variable "nope"`},
		{"undeclared local", `resource "google_service_account" "a" { account_id = local.nope }`, `no local value "nope"`},
		{"undeclared resource", `resource "google_service_account" "a" { account_id = google_service_account.b.email }`, `no google_service_account.b`},
		{"unknown attribute of a resource", sa + `output "o" {
  value = google_service_account.a.emial
}`, `has no attribute "emial"`},
		{"each outside for_each", `resource "google_service_account" "a" { account_id = each.value }`, `each is used outside`},
		{"unknown function", `locals { x = uppercase("a") }`, `no function "uppercase"`},
		{"function of a later Terraform", `locals { x = issensitive("a") }`, `no function "issensitive"`},
		{"function of terraform console only", `locals { x = type("a") }`, `no function "type"`},
		{"argument of the wrong type", `resource "google_cloud_run_v2_service" "s" {
  name = "n"
  location = "l"
  template {
    scaling {
      min_instance_count = "many"
    }
    containers { image = "i" }
  }
}`, `"min_instance_count" is a number`},
		{"list argument given a string", `resource "google_cloud_run_v2_service" "s" {
  name = "n"
  location = "l"
  template {
    containers {
      image = "i"
      args = "--verbose"
    }
  }
}`, `"args" is a list of string`},
		{"unknown attribute of a nested block", `resource "google_cloud_run_v2_service" "s" {
  name = "n"
  location = "l"
  template {
    containers { image = "i" }
  }
}
output "o" { value = google_cloud_run_v2_service.s.template[0].bogus }`, `google_cloud_run_v2_service.s.template has no attribute "bogus"`},
		{"unknown attribute deep in a nested block", `resource "google_cloud_run_v2_service" "s" {
  name = "n"
  location = "l"
  template {
    containers { image = "i" }
  }
}
output "o" { value = google_cloud_run_v2_service.s.template[0].containers[0].imag }`, `template.containers has no attribute "imag"`},
		{"unknown attribute inside an object attribute", `data "google_cloud_run_v2_service" "d" { name = "n" }
output "o" { value = data.google_cloud_run_v2_service.d.template[0].containers[0].imagee }`, `template.containers has no attribute "imagee"`},
		{"variable with an unknown argument", `variable "v" {
  type = string
  descripton = "x"
}`, `variable has no argument "descripton"`},
		{"validation without a message", `variable "v" {
  type = string
  validation {
    condition = true
  }
}`, `validation needs the argument "error_message"`},
		{"unknown provider argument", `provider "google" { projekt = "p" }`, `provider google has no argument "projekt"`},
		{"unknown module variable", `module "m" {
  source = "MODULE"
  project_id = "p"
  region = "r"
  database_location = "eur3"
  image = "i"
  regoin = "x"
}`, `module "m" has no variable "regoin"`},
		{"module variable left unset", `module "m" {
  source = "MODULE"
  project_id = "p"
  region = "r"
  database_location = "eur3"
}`, `needs its variable "image" set`},
		{"unknown module output", `module "m" {
  source = "MODULE"
  project_id = "p"
  region = "r"
  database_location = "eur3"
  image = "i"
}
output "o" { value = module.m.service_uri }`, `module "m" has no output "service_uri"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rel, err := filepath.Rel(dir, module)
			if err != nil {
				t.Fatal(err)
			}
			tf := strings.ReplaceAll(tt.tf, "MODULE", filepath.ToSlash(rel))
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
				t.Fatal(err)
			}
			problems := checkConfig(schema, loadConfigT(t, dir))
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; found %q", tt.want, problems)
		})
	}
}

// TestCheckerPassesDeepReferencesAndConvertibleConstants: what the new checks must not report:
// references that exist deep in blocks and object attributes, and constants Terraform converts
// ("2" to a number).
func TestCheckerPassesDeepReferencesAndConvertibleConstants(t *testing.T) {
	schema := loadSchema(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `resource "google_cloud_run_v2_service" "s" {
  name     = "n"
  location = "l"
  template {
    scaling {
      min_instance_count = "2"
    }
    containers {
      image = "i"
      args  = ["--verbose"]
    }
  }
}
data "google_cloud_run_v2_service" "d" { name = "n" }
output "a" { value = google_cloud_run_v2_service.s.template[0].containers[0].image }
output "b" { value = data.google_cloud_run_v2_service.d.template[0].containers[0].image }
output "c" { value = google_cloud_run_v2_service.s.terminal_condition[0].state }
`)
	if p := checkConfig(schema, cfg); len(p) > 0 {
		t.Errorf("a valid configuration: %q", p)
	}
}
