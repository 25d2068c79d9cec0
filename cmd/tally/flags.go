package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseFlags sets the flags in args on fs and returns the positional
// arguments. With interleaved, flags may appear anywhere among the positional
// arguments; otherwise parsing stops at the first positional argument. "--"
// ends the flags.
//
// An argument is a flag only if it starts with "-" followed by something other
// than a digit, so a negative DELTA such as -5 stays positional. A flag's value
// is always the following argument (or the text after "="), whatever it looks
// like, so `--key -5` sets the key to "-5".
func parseFlags(fs *flag.FlagSet, args []string, interleaved bool) ([]string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(positional, args[i+1:]...), nil
		}
		if !looksLikeFlag(arg) {
			if !interleaved {
				return append(positional, args[i:]...), nil
			}
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		if name == "h" || name == "help" {
			return nil, flag.ErrHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, unknownFlag(fs, name)
		}
		switch {
		case hasValue:
		case isBoolFlag(f):
			value = "true"
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, usageErrorf("flag --%s needs a value", name)
		}
		if err := fs.Set(name, value); err != nil {
			return nil, usageErrorf("invalid value %q for flag --%s: want %s", value, name, expectation(f))
		}
	}
	return positional, nil
}

func looksLikeFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && (arg[1] < '0' || arg[1] > '9')
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func unknownFlag(fs *flag.FlagSet, name string) error {
	if fs.Name() != "tally" && isGlobalFlag(name) {
		return usageErrorf("--%s is a global flag: put it before the command (tally --%s %s ...)", name, name, fs.Name())
	}
	return usageErrorf("unknown flag --%s", name)
}

// expectation describes the values a flag accepts, for error messages.
func expectation(f *flag.Flag) string {
	switch f.Value.(type) {
	case *int32Flag:
		return "an integer from -2147483648 to 2147483647"
	case *onOffFlag:
		return "on or off"
	case *timeFlag:
		return "an RFC 3339 time such as 2025-03-14T15:09:26Z, or a time ago such as -5m"
	}
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return "a valid value"
	}
	switch getter.Get().(type) {
	case bool:
		return "true or false"
	case int:
		return "a whole number"
	case time.Duration:
		return "a duration such as 500ms, 10s or 1m"
	default:
		return "a valid value"
	}
}

// int32Flag is an optional int32 flag that remembers whether it was given.
type int32Flag struct {
	value int32
	set   bool
}

var _ flag.Value = (*int32Flag)(nil)

func (f *int32Flag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatInt(int64(f.value), 10)
}

func (f *int32Flag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return err
	}
	f.value, f.set = int32(v), true
	return nil
}

// onOffFlag is an optional on|off flag that remembers whether it was given.
type onOffFlag struct {
	value, set bool
}

var _ flag.Value = (*onOffFlag)(nil)

func (f *onOffFlag) String() string {
	switch {
	case f == nil || !f.set:
		return ""
	case f.value:
		return "on"
	}
	return "off"
}

func (f *onOffFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true":
		f.value = true
	case "off", "false":
		f.value = false
	default:
		return fmt.Errorf("want on or off")
	}
	f.set = true
	return nil
}

// timeFlag is an optional moment: an RFC 3339 time, or a negative duration
// counted back from when the command runs (-5m, -1h30m), taken to its whole
// minute when it is more than pitrExactWindow ago.
type timeFlag struct {
	value time.Time
	set   bool
	now   func() time.Time // time.Now; tests fix it
}

var _ flag.Value = (*timeFlag)(nil)

// pitrExactWindow is how far back Firestore reads at any microsecond; older reads
// must be at whole minutes.
const pitrExactWindow = time.Hour

func (f *timeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.value.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	if strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		now := time.Now
		if f.now != nil {
			now = f.now
		}
		at := now().Add(d)
		if d < -pitrExactWindow {
			// Firestore reads beyond its last hour only at whole minutes (the server refuses
			// other times there); a time ago is approximate anyway, so take its minute.
			at = at.Truncate(time.Minute)
		}
		f.value, f.set = at, true
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	f.value, f.set = t, true
	return nil
}
