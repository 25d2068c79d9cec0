package main

import (
	"io"
	"testing"

	"github.com/tally-dev/tally/terraform"
)

// TestTerraformValidationsAgreeWithTallyd feeds values of the module's variables that become
// tallyd's configuration both through the module's validations and, as the environment the
// module plans for them, through tallyd's parseConfig and Validate. A value the module accepts
// must start tallyd; a value tallyd refuses must fail at plan time, not as a revision that
// never becomes ready. The module may be stricter than tallyd only where a row says why.
func TestTerraformValidationsAgreeWithTallyd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variable, value string
		module, tallyd  bool   // whether each accepts the value
		stricter        string // why the module refuses what tallyd takes
	}{
		{variable: "key_retention", value: `"24h"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"1m"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"60s"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"1.5m"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"1h30m"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"60000ms"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"60000000µs"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"2562047h"`, module: true, tallyd: true},
		{variable: "key_retention", value: `"30s"`},
		{variable: "key_retention", value: `"0s"`},
		{variable: "key_retention", value: `"59.999s"`},
		{variable: "key_retention", value: `"0.5m"`},
		{variable: "key_retention", value: `"-1h"`},
		{variable: "key_retention", value: `"24"`},
		{variable: "key_retention", value: `"1d"`},
		{variable: "key_retention", value: `""`},
		{variable: "key_retention", value: `"2562048h"`}, // beyond time.Duration
		{variable: "key_retention", value: `"+1h"`, tallyd: true, stricter: "a sign is Go syntax nobody needs"},
		{variable: "key_retention", value: `".5h"`, tallyd: true, stricter: "a fraction without its leading 0"},

		{variable: "default_shards", value: "1", module: true, tallyd: true},
		{variable: "default_shards", value: "16", module: true, tallyd: true},
		{variable: "default_shards", value: "1000", module: true, tallyd: true},
		{variable: "default_shards", value: "0"},
		{variable: "default_shards", value: "-3"},
		{variable: "default_shards", value: "1001"},
		{variable: "default_shards", value: "1.5"},

		{variable: "log_level", value: `"debug"`, module: true, tallyd: true},
		{variable: "log_level", value: `"error"`, module: true, tallyd: true},
		{variable: "log_level", value: `"verbose"`},
		{variable: "log_level", value: `"INFO"`, tallyd: true, stricter: "one spelling of each level, as docs/operations.md gives them"},

		{variable: "project_id", value: `"my-project"`, module: true, tallyd: true},
		{variable: "project_id", value: `""`},
		{variable: "project_id", value: `"My Project"`, tallyd: true, stricter: "not a project id: Firestore would refuse it"},

		{variable: "extra_env", value: `{ TALLY_MAX_CONCURRENT_CALLS = "2048" }`, module: true, tallyd: true},
		{variable: "extra_env", value: `{ TALLY_KEY_RETENTION = "30s" }`},
		{variable: "extra_env", value: `{ FIRESTORE_EMULATOR_HOST = "localhost:8080" }`},
		{variable: "extra_env", value: `{ TALLY_ADDR = "127.0.0.1:9090" }`, tallyd: true, stricter: "Cloud Run sends calls and probes to $PORT on every interface"},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			if tt.module && !tt.tallyd {
				t.Fatal("the table lets the module accept what tallyd refuses")
			}
			if (tt.stricter != "") != (tt.tallyd && !tt.module) {
				t.Fatal("a row where the module is stricter says why, and only such a row")
			}
			vars := map[string]string{tt.variable: tt.value}
			refused, err := terraform.VariableErrors(terraformModule, vars)
			if err != nil {
				t.Fatal(err)
			}
			if module := len(refused) == 0; module != tt.module {
				t.Errorf("the module accepts it: %v, want %v (%q)", module, tt.module, refused)
			}
			err = tallydAcceptsModuleConfig(vars)
			if tallyd := err == nil; tallyd != tt.tallyd {
				t.Errorf("tallyd accepts it: %v, want %v (%v)", tallyd, tt.tallyd, err)
			}
		})
	}
}

// tallydAcceptsModuleConfig starts tallyd's configuration as Cloud Run would start it from the
// module with vars: the container's arguments and environment, PORT and K_SERVICE.
func tallydAcceptsModuleConfig(vars map[string]string) error {
	c, err := terraform.CloudRunContainer(terraformModule, vars)
	if err != nil {
		return err
	}
	env := map[string]string{"PORT": "8080", "K_SERVICE": "tally"}
	for k, v := range c.Env {
		env[k] = v
	}
	for _, k := range c.Computed {
		env[k] = computedSamples[k]
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err = parseConfig(c.Args, lookup, io.Discard)
	return err
}
