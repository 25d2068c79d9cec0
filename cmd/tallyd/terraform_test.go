package main

import (
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-dev/tally/terraform"
)

// The Terraform module configures tallyd on Cloud Run through the environment only. These tests
// read the container's environment and arguments as the module plans them and hold them against
// tallyd's real flags, so that renaming a flag or changing what it accepts fails here rather
// than as a revision that does not start.

var terraformModule = filepath.Join("..", "..", "terraform", "modules", "tally")

// The module's variable values to check: its defaults, and each optional setting turned on.
var terraformScenarios = map[string]map[string]string{
	"defaults":           nil,
	"token secret":       {"token_secret_id": `"tally-tokens"`},
	"tracing":            {"otlp_endpoint": `"http://collector:4317"`},
	"managed prometheus": {"enable_managed_prometheus": "true"},
	"extra env":          {"extra_env": `{ TALLY_MAX_CONCURRENT_CALLS = "2048", TALLY_DEFAULT_DEADLINE = "10s" }`},
	"everything":         {"project_id": `"my-project"`, "token_secret_id": `"t"`, "log_level": `"debug"`, "key_retention": `"48h"`, "default_shards": "64"},
}

// Values Cloud Run knows only after apply, as they would be.
var computedSamples = map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "TALLY_DATABASE": "tally"}

// setByCloudRun are the variables Cloud Run sets itself; the module must leave them alone.
var setByCloudRun = []string{"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}

func TestTerraformEnvMatchesFlags(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for name, vars := range terraformScenarios {
		t.Run(name, func(t *testing.T) {
			c, err := terraform.CloudRunContainer(terraformModule, vars)
			if err != nil {
				t.Fatal(err)
			}
			fs := newFlagSet(&Config{}, noEnv)
			fs.SetOutput(io.Discard)
			byEnv := map[string]*flag.Flag{}
			fs.VisitAll(func(f *flag.Flag) { byEnv[envName(f.Name)] = f })

			env := map[string]string{}
			for k, v := range c.Env {
				env[k] = v
			}
			for _, k := range c.Computed {
				env[k] = computedSamples[k]
				if _, ok := computedSamples[k]; !ok {
					t.Errorf("%s is computed at apply time; add a sample value to computedSamples", k)
				}
			}
			for k, v := range env {
				if slices.Contains(setByCloudRun, k) {
					t.Errorf("the module sets %s, which Cloud Run sets itself", k)
					continue
				}
				if !strings.HasPrefix(k, envPrefix) {
					if !otherEnvKnown(k) || k == "FIRESTORE_EMULATOR_HOST" {
						t.Errorf("the module sets %s, which tallyd does not read (or must not be set on Cloud Run)", k)
					}
					continue
				}
				f := byEnv[k]
				if f == nil {
					t.Errorf("the module sets %s, but tallyd has no flag --%s", k, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, envPrefix)), "_", "-"))
					continue
				}
				if slices.Contains(c.Computed, k) {
					if _, isString := f.Value.(flag.Getter).Get().(string); !isString {
						t.Errorf("%s is known only after apply, but --%s is not a string flag: its value cannot be checked", k, f.Name)
					}
				}
				if err := fs.Set(f.Name, v); err != nil {
					t.Errorf("%s=%q does not parse as --%s: %v", k, v, f.Name, err)
				}
			}
			if err := fs.Parse(c.Args); err != nil || fs.NArg() > 0 {
				t.Errorf("the container's arguments %q do not parse: %v (left: %q)", c.Args, err, fs.Args())
			}

			// The whole configuration, with what Cloud Run adds, is one tallyd accepts.
			env["PORT"] = "8080"
			env["K_SERVICE"] = "tally"
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			cfg, err := parseConfig(c.Args, lookup, io.Discard)
			if err != nil {
				t.Fatalf("tallyd refuses the module's configuration: %v", err)
			}
			// Cloud Run's standard error is no terminal.
			if json := cfg.LogJSON.jsonLines(false); cfg.Storage != storageFirestore || cfg.Addr != "0.0.0.0:8080" || !json {
				t.Errorf("storage %q, addr %q, JSON logs %v (--log-json=%s); want firestore on 0.0.0.0:$PORT with JSON logs", cfg.Storage, cfg.Addr, json, cfg.LogJSON)
			}
			// Every phase of a shutdown, from SIGTERM to the exit (shutdownBudget), fits in the
			// time Cloud Run gives it.
			if budget := shutdownBudget(cfg.ShutdownTimeout); budget >= cloudRunTermination {
				t.Errorf("shutdown may take %s (--shutdown-timeout %s + the calls' grace %s + the admin listener and telemetry flush %s); Cloud Run kills the instance %s after SIGTERM",
					budget, cfg.ShutdownTimeout, answerGrace, exitTimeout, cloudRunTermination)
			}
		})
	}
}

// TestTerraformProbesAskTallydsHealth: the module's probes ask tallyd's gRPC health about
// services tallyd reports. The startup probe asks about the server as a whole, which follows
// Firestore; the liveness probe about livenessService, which does not, so that an outage of
// Firestore restarts no instance.
func TestTerraformProbesAskTallydsHealth(t *testing.T) {
	c, err := terraform.CloudRunContainer(terraformModule, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"startup_probe": "", "liveness_probe": livenessService}
	for name, service := range want {
		p, ok := c.Probes[name]
		if !ok || p.Kind != "grpc" || p.Service != service {
			t.Errorf("%s: %+v; want a grpc probe of health service %q", name, p, service)
		}
	}
	if !slices.Contains(servedServices, "") {
		t.Errorf("the prober does not set the health of the server as a whole, which the startup probe asks about")
	}
	if slices.Contains(servedServices, livenessService) {
		t.Errorf("the prober sets %q, which must not follow Firestore", livenessService)
	}
}

// cloudRunTermination is how long Cloud Run waits after SIGTERM before it kills the instance.
const cloudRunTermination = 10 * time.Second

// otherEnvKnown reports whether tallyd reads the non-TALLY_ variable name (usage.go lists them).
func otherEnvKnown(name string) bool {
	for _, e := range otherEnv {
		if e.name == name || (strings.HasSuffix(e.name, "*") && strings.HasPrefix(name, strings.TrimSuffix(e.name, "*"))) {
			return true
		}
	}
	return false
}

// TestTerraformEnvCheckFails shows the check above catching a renamed flag and a bad value.
func TestTerraformEnvCheckFails(t *testing.T) {
	fs := newFlagSet(&Config{}, func(string) (string, bool) { return "", false })
	fs.SetOutput(io.Discard)
	if f := fs.Lookup("shutdown-timeout"); f == nil || envName(f.Name) != "TALLY_SHUTDOWN_TIMEOUT" {
		t.Fatal("--shutdown-timeout is not TALLY_SHUTDOWN_TIMEOUT")
	}
	if fs.Lookup("shutdown-deadline") != nil {
		t.Fatal("an unknown flag exists")
	}
	if err := fs.Set("shutdown-timeout", "4 seconds"); err == nil {
		t.Error("a malformed duration parsed")
	}
	if otherEnvKnown("TALLY_NOTHING") || otherEnvKnown("PATH") || !otherEnvKnown("OTEL_SERVICE_NAME") {
		t.Error("otherEnvKnown misjudges names")
	}
}
