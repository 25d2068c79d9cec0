package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// sampleValues holds, for every flag, a valid value other than its default. A flag missing here
// fails TestEveryFlagHasItsEnvironmentVariable, so that a new flag gets its variable tested.
var sampleValues = map[string]string{
	"addr":                 "127.0.0.1:7",
	"storage":              "embedded",
	"data-dir":             "/var/lib/tally",
	"project":              "other-project",
	"database":             "other-db",
	"default-shards":       "3",
	"max-batch":            "7",
	"max-in-flight":        "2",
	"key-retention":        "2h",
	"shutdown-timeout":     "3s",
	"log-level":            "debug",
	"log-json":             "true",
	"gc-percent":           "150",
	"admin-addr":           "", // the empty value, which only a set variable can give
	"tokens-file":          "/etc/tally/tokens.json",
	"tls-cert":             "/etc/tally/cert.pem",
	"tls-key":              "/etc/tally/key.pem",
	"client-ca":            "/etc/tally/ca.pem",
	"insecure":             "true",
	"max-message-bytes":    "65536",
	"max-batch-names":      "50",
	"default-deadline":     "5s",
	"max-concurrent-calls": "16",
	"keepalive-min-time":   "30s",
	"health-interval":      "1s",
	"watch-interval":       "1s",
	"min-watch-interval":   "10ms",
	"max-watches":          "100",
	"max-watched-counters": "20",
	"adaptive-min-shards":  "2",
	"adaptive-max-shards":  "32",
	"adaptive-step":        "4",
	"adaptive-window":      "30s",
	"adaptive-cooldown":    "1h",
}

// flagConfig is the configuration of a flag set after args and the environment, unvalidated.
func flagConfig(t *testing.T, args []string, env map[string]string) Config {
	t.Helper()
	var c Config
	fs := newFlagSet(&c, envMap(env))
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs, envMap(env)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryFlagHasItsEnvironmentVariable: for every flag --foo, TALLY_FOO sets what --foo sets,
// and --foo on the command line beats TALLY_FOO.
func TestEveryFlagHasItsEnvironmentVariable(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p"} // so that the storage default is not embedded
	defaults := flagConfig(t, nil, base)
	newFlagSet(&Config{}, envMap(nil)).VisitAll(func(f *flag.Flag) {
		t.Run(f.Name, func(t *testing.T) {
			v, ok := sampleValues[f.Name]
			if !ok {
				t.Fatalf("no sample value for --%s in sampleValues", f.Name)
			}
			fromFlag := flagConfig(t, []string{"--" + f.Name + "=" + v}, base)
			if reflect.DeepEqual(fromFlag, defaults) {
				t.Fatalf("sample value %q of --%s is its default", v, f.Name)
			}
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", envName(f.Name): v}
			if got := flagConfig(t, nil, env); !reflect.DeepEqual(got, fromFlag) {
				t.Errorf("%s=%q gives\n%+v\nbut --%s=%q gives\n%+v", envName(f.Name), v, got, f.Name, v, fromFlag)
			}
			env[envName(f.Name)] = f.DefValue
			if got := flagConfig(t, []string{"--" + f.Name + "=" + v}, env); !reflect.DeepEqual(got, fromFlag) {
				t.Errorf("%s=%q overrode --%s=%q on the command line", envName(f.Name), f.DefValue, f.Name, v)
			}
		})
	})
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"addr":                 "TALLY_ADDR",
		"max-concurrent-calls": "TALLY_MAX_CONCURRENT_CALLS",
		"tls-cert":             "TALLY_TLS_CERT",
	} {
		if got := envName(flagName); got != want {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

// TestHelpDocumentsEveryOption: --help names every flag with its variable and default.
func TestHelpDocumentsEveryOption(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, envMap(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	newFlagSet(&Config{}, envMap(nil)).VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		for _, want := range []string{"--" + f.Name, usage, "env " + envName(f.Name) + ", default " + shownDefault(f)} {
			if !strings.Contains(help, want) {
				t.Errorf("--help does not show %q", want)
			}
		}
	})
	for _, e := range otherEnv {
		if !strings.Contains(help, e.name) {
			t.Errorf("--help does not mention %s", e.name)
		}
	}
}

// TestConfigurationLineHasEveryOption reads the configuration line tallyd logs at start: it
// has a field per flag, under the flag's name with underscores, and the storage fields from the
// environment.
func TestConfigurationLineHasEveryOption(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	// A data directory under a file: storage fails to open after the configuration was logged.
	notDir := t.TempDir() + "/file"
	if err := writeFile(notDir); err != nil {
		t.Fatal(err)
	}
	args := []string{"--log-json", "--admin-addr=", "--data-dir", notDir + "/data", "--max-concurrent-calls", "77"}
	if err := run(t.Context(), args, envMap(nil), io.Discard, &logs, nil); err == nil {
		t.Fatal("run served on a data directory under a file")
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err == nil && line["message"] == "configuration" {
			break
		}
		line = nil
	}
	if line == nil {
		t.Fatalf("no configuration line among the logs:\n%s", logs.String())
	}
	keys := []string{"emulator_host"}
	newFlagSet(&Config{}, envMap(nil)).VisitAll(func(f *flag.Flag) { keys = append(keys, strings.ReplaceAll(f.Name, "-", "_")) })
	for _, k := range keys {
		if _, ok := line[k]; !ok {
			t.Errorf("the configuration line has no %s: %v", k, line)
		}
	}
	if line["max_concurrent_calls"] != float64(77) || line["default_deadline"] != "30s" || line["log_level"] != "INFO" {
		t.Errorf("the configuration line shows other values than the configuration's: %v", line)
	}
}

// TestSecretsAreRedacted: a field tagged secret is logged as redacted, and an unset one as empty.
func TestSecretsAreRedacted(t *testing.T) {
	type withSecrets struct {
		Name   string `log:"name"`
		Token  string `log:"token,secret"`
		Unset  string `log:"unset,secret"`
		Number int    `log:"number"`
	}
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("configuration", configAttrs(&withSecrets{Name: "n", Token: "hunter2", Number: 3})...)
	line := out.String()
	if strings.Contains(line, "hunter2") {
		t.Fatalf("the secret is in the log: %s", line)
	}
	for _, want := range []string{"name=n", "token=" + redacted, `unset=""`, "number=3"} {
		if !strings.Contains(line, want) {
			t.Errorf("the line %q lacks %s", line, want)
		}
	}
}

// secretName matches the field names that suggest a credential; a field holding the path of a
// file (…File, …Cert, …CA) does not count.
var secretName = regexp.MustCompile(`(?i)(token|secret|password|passphrase|credential|apikey)`)

// TestConfigFieldsThatLookSecretAreTagged guards the redaction: every Config field has a log
// key, and one named like a credential is tagged secret, and so is its flag.
func TestConfigFieldsThatLookSecretAreTagged(t *testing.T) {
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		key, secret := logTag(f)
		if key == "" {
			t.Errorf("Config.%s has no log tag", f.Name)
		}
		isPath := strings.HasSuffix(f.Name, "File") || strings.HasSuffix(f.Name, "Cert") || strings.HasSuffix(f.Name, "CA")
		if secretName.MatchString(f.Name) && !isPath && !secret {
			t.Errorf("Config.%s looks like a credential but is not tagged secret", f.Name)
		}
		if secret && !secretFlag(strings.ReplaceAll(key, "_", "-")) {
			t.Errorf("secretFlag does not know the flag of Config.%s", f.Name)
		}
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("not a directory\n"), 0o600) }
