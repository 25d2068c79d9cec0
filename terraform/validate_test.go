package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVariableValidations feeds values through the module's variable validations: each good one
// passes and each bad one is refused, so that removing or loosening a validation fails here.
// (cmd/tallyd's terraform_validation_test.go holds the variables that become tallyd flags
// against tallyd's own parsing.)
func TestVariableValidations(t *testing.T) {
	t.Parallel()
	cfg := loadConfigT(t, moduleDir)
	tests := []struct {
		variable string
		good     []string
		bad      []string
	}{
		{"project_id", []string{`"my-project"`, `"a12345"`}, []string{`"My Project"`, `"p"`, `"123456789012"`, `"project-"`}},
		{"region", []string{`"europe-west1"`, `"us-central1"`}, []string{`"europe"`, `"EU-WEST1"`, `"europe-west1-b"`}},
		{"name", []string{`"tally"`, `"t2"`}, []string{`"Tally"`, `"tally-"`, `"a-name-far-too-long-for-it"`}},
		{"database_id", []string{`"tally"`, `"(default)"`}, []string{`"db"`, `"Tally"`, `""`}},
		{"database_location", []string{`"eur3"`, `"nam5"`, `"europe-west1"`}, []string{`"europe"`, `"EU"`}},
		{"min_instances", []string{"0", "100"}, []string{"-1", "101", "1.5"}},
		{"max_instances", []string{"1", "1000"}, []string{"0", "1001", "2.5"}},
		{"concurrency", []string{"1", "250", "1000"}, []string{"0", "1001"}},
		{"cpu", []string{`"1"`, `"4"`, `"500m"`}, []string{`"3"`, `"1.5"`, `"1000m"`, `"0m"`}},
		{"memory", []string{`"512Mi"`, `"2Gi"`}, []string{`"512"`, `"512MB"`, `"0Mi"`}},
		{"default_shards", []string{"1", "16", "1000"}, []string{"0", "1001", "1.5"}},
		{"key_retention", []string{`"24h"`, `"1m"`, `"60s"`, `"1.5m"`, `"1h30m"`, `"60000ms"`, `"2562047h"`},
			[]string{`"30s"`, `"0s"`, `"59.999s"`, `"0.5m"`, `"24"`, `"1d"`, `"-1h"`, `""`, `"2562048h"`}},
		{"request_timeout", []string{`"60s"`, `"3600s"`}, []string{`"1m"`, `"3601s"`, `"0s"`}},
		{"backup_retention_days", []string{"1", "98"}, []string{"0", "99", "1.5"}},
		{"image", []string{`"europe-west1-docker.pkg.dev/p/tally/tallyd@sha256:` + strings.Repeat("0", 64) + `"`, `"ghcr.io/x/tallyd:v1"`},
			[]string{`"tallyd"`, `"ghcr.io/x/tallyd"`, `"ghcr.io/x/tallyd@sha256:abc"`}},
		{"token_secret_id", []string{`"tally-tokens"`, `"projects/other-project/secrets/t"`}, []string{`"a secret"`, `"projects/p/secrets/"`}},
		{"invoker_members", []string{`["user:a@example.com", "serviceAccount:x@p.iam.gserviceaccount.com"]`}, []string{`["allUsers"]`, `["allAuthenticatedUsers"]`, `["a@example.com"]`}},
		{"extra_env", []string{`{ TALLY_MAX_CONCURRENT_CALLS = "2048", OTEL_TRACES_SAMPLER_ARG = "0.01" }`},
			[]string{`{ PORT = "1" }`, `{ K_SERVICE = "x" }`, `{ TALLY_ADDR = "0.0.0.0:1" }`, `{ FIRESTORE_EMULATOR_HOST = "h:1" }`, `{ TALLY_PROJECT = "p" }`, `{ TALLY_DATA_DIR = "/d" }`, `{ TALLY_TLS_CERT = "/c" }`, `{ lower = "x" }`}},
		{"notification_channels", []string{`["projects/p/notificationChannels/1"]`}, []string{`["1234"]`}},
		{"labels", []string{`{ team = "counters" }`}, []string{`{ Team = "x" }`}},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			for _, v := range tt.good {
				refused, err := variableErrors(cfg, map[string]string{tt.variable: v})
				if err != nil || len(refused) > 0 {
					t.Errorf("%s = %s refused: %q, %v", tt.variable, v, refused, err)
				}
			}
			for _, v := range tt.bad {
				refused, err := variableErrors(cfg, map[string]string{tt.variable: v})
				if err != nil {
					t.Errorf("%s = %s: %v (a condition should be false, not fail)", tt.variable, v, err)
				} else if len(refused) == 0 {
					t.Errorf("%s = %s passes the module's validations", tt.variable, v)
				}
			}
		})
	}
}

// TestExtraEnvRefusesWhatTheModuleSets: every environment variable the module gives tallyd, in
// every service scenario, is one extra_env may not set (it would override the module's own
// setting), and so are those Cloud Run sets.
func TestExtraEnvRefusesWhatTheModuleSets(t *testing.T) {
	t.Parallel()
	cfg := loadConfigT(t, moduleDir)
	keys := map[string]bool{"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true}
	for name, vars := range serviceScenarios {
		c, err := CloudRunContainer(moduleDir, vars)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, extra := vars["extra_env"]; extra {
			continue // those keys are the scenario's own
		}
		for k := range c.Env {
			keys[k] = true
		}
		for _, k := range c.Computed {
			keys[k] = true
		}
	}
	if len(keys) < 10 {
		t.Fatalf("only %d environment variables found: %v", len(keys), keys)
	}
	for k := range keys {
		if !rejected(cfg, "extra_env", fmt.Sprintf("{ %s = %q }", k, "x")) {
			t.Errorf("extra_env may set %s, which the module or Cloud Run sets", k)
		}
	}
}

// TestVariableErrorsFails shows VariableErrors reporting a condition that cannot be evaluated
// and a value of the wrong type, and naming the validation's message.
func TestVariableErrorsFails(t *testing.T) {
	t.Parallel()
	refused, err := VariableErrors(moduleDir, map[string]string{"key_retention": `"30s"`})
	if err != nil || len(refused) != 1 || !strings.Contains(refused[0], "at least 1m") {
		t.Errorf("key_retention 30s: %q, %v; want the validation's message", refused, err)
	}
	if refused, err := VariableErrors(moduleDir, map[string]string{"min_instances": `"many"`}); err != nil || len(refused) == 0 {
		t.Errorf("min_instances = \"many\" is not refused: %q, %v", refused, err)
	}
	if _, err := VariableErrors(moduleDir, map[string]string{"no_such_variable": "1"}); err == nil {
		t.Error("an undeclared variable is not an error")
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `variable "v" {
  type        = string
  description = "d"
  validation {
    condition     = tonumber(var.v) > 0
    error_message = "no"
  }
}`)
	if _, err := variableErrors(cfg, map[string]string{"v": `"x"`}); err == nil {
		t.Error("a condition that fails to evaluate is not an error")
	}
}

// writeConfig writes tf as dir/main.tf and loads it.
func writeConfig(t *testing.T, dir, tf string) *config {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadConfigT(t, dir)
}
