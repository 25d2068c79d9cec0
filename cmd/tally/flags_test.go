package main

import (
	"errors"
	"flag"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	type parsed struct {
		key        string
		all        bool
		positional []string
	}
	tests := []struct {
		name        string
		args        []string
		interleaved bool
		want        parsed
		wantErr     string
	}{
		{name: "flags anywhere", args: []string{"a", "--key", "k", "b", "--all"}, interleaved: true,
			want: parsed{key: "k", all: true, positional: []string{"a", "b"}}},
		{name: "negative numbers are positional", args: []string{"-5", "--key=k", "-0", "-9x"}, interleaved: true,
			want: parsed{key: "k", positional: []string{"-5", "-0", "-9x"}}},
		{name: "a lone dash is positional", args: []string{"-"}, interleaved: true,
			want: parsed{positional: []string{"-"}}},
		{name: "double dash ends flags", args: []string{"--all", "--", "--key", "-x"}, interleaved: true,
			want: parsed{all: true, positional: []string{"--key", "-x"}}},
		{name: "bool with explicit value", args: []string{"--all=false", "a"}, interleaved: true,
			want: parsed{positional: []string{"a"}}},
		{name: "a value may look like a flag", args: []string{"--key", "--all"}, interleaved: true,
			want: parsed{key: "--all"}},
		{name: "not interleaved stops at the first positional", args: []string{"-all", "cmd", "--key", "k"},
			want: parsed{all: true, positional: []string{"cmd", "--key", "k"}}},
		{name: "unknown flag", args: []string{"a", "--nope"}, interleaved: true, wantErr: "unknown flag --nope"},
		{name: "missing value", args: []string{"--key"}, interleaved: true, wantErr: "flag --key needs a value"},
		{name: "bad bool", args: []string{"--all=maybe"}, interleaved: true,
			wantErr: `invalid value "maybe" for flag --all: want true or false`},
		{name: "global flag after the command", args: []string{"--timeout", "1s"}, interleaved: true,
			wantErr: "--timeout is a global flag: put it before the command (tally --timeout cmd ...)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
			var got parsed
			fs.StringVar(&got.key, "key", "", "")
			fs.BoolVar(&got.all, "all", false, "")
			positional, err := parseFlags(fs, tc.args, tc.interleaved)
			if tc.wantErr != "" {
				var usage *usageError
				if !errors.As(err, &usage) || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			got.positional = positional
			if got.key != tc.want.key || got.all != tc.want.all || !slices.Equal(got.positional, tc.want.positional) {
				t.Errorf("parsed %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		t.Run(arg, func(t *testing.T) {
			fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
			if _, err := parseFlags(fs, []string{"x", arg}, true); !errors.Is(err, flag.ErrHelp) {
				t.Errorf("error = %v, want flag.ErrHelp", err)
			}
		})
	}
}

// TestTimeFlagAgo: a time ago within the last hour is exact to the microsecond the command ran
// at; one further back is taken to its whole minute, the only times Firestore reads there.
func TestTimeFlagAgo(t *testing.T) {
	now := time.Date(2025, 3, 16, 12, 30, 45, 123456000, time.UTC)
	for _, tt := range []struct {
		arg  string
		want time.Time
	}{
		{"-5m", time.Date(2025, 3, 16, 12, 25, 45, 123456000, time.UTC)},
		{"-1h", time.Date(2025, 3, 16, 11, 30, 45, 123456000, time.UTC)},
		{"-1h30m", time.Date(2025, 3, 16, 11, 0, 0, 0, time.UTC)},
		{"-48h", time.Date(2025, 3, 14, 12, 30, 0, 0, time.UTC)},
	} {
		t.Run(tt.arg, func(t *testing.T) {
			f := &timeFlag{now: func() time.Time { return now }}
			if err := f.Set(tt.arg); err != nil {
				t.Fatal(err)
			}
			if !f.value.Equal(tt.want) {
				t.Errorf("--at %s at %v: %v, want %v", tt.arg, now, f.value, tt.want)
			}
		})
	}
}
