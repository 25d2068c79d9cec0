package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// An export file is JSON lines: a header, one line per counter in the order
// the server listed them, and an end line that counts them, so that a file
// cut short (a failed export, a partial copy) is recognised and refused:
//
//	{"kind":"header","format":"tally-export","version":1,"export_id":"…","export_time":"2025-…Z","prefix":""}
//	{"kind":"counter","id":"page-views","shard_count":16,"value":"9223372036854775807"}
//	{"kind":"end","counters":1}
//
// A value is a decimal string: JSON numbers beyond 2^53 lose precision in
// many parsers, and values are int64. An integer number is accepted too.
const (
	exportFormat  = "tally-export"
	exportVersion = 1

	kindHeader  = "header"
	kindCounter = "counter"
	kindEnd     = "end"
)

// exportHeader is the first line of an export file. ExportID, random for
// each export, is what the idempotency keys of its import derive from.
type exportHeader struct {
	Kind       string `json:"kind"`
	Format     string `json:"format"`
	Version    int    `json:"version"`
	ExportID   string `json:"export_id"`
	ExportTime string `json:"export_time"` // RFC 3339, UTC
	Prefix     string `json:"prefix"`      // the --prefix the counters were listed with
}

// exportedCounter is one counter of an export file.
type exportedCounter struct {
	Kind       string      `json:"kind"`
	ID         string      `json:"id"`
	ShardCount int32       `json:"shard_count"`
	Value      *exactInt64 `json:"value"` // nil: missing from the file

	line int // where it was read, for messages; not part of the file
}

// exportEnd is the last line of an export file.
type exportEnd struct {
	Kind     string `json:"kind"`
	Counters int    `json:"counters"`
}

// export is a whole export file, read and checked.
type export struct {
	header   exportHeader
	counters []exportedCounter
}

// exactInt64 is an int64 written as a decimal string, read from a string or
// an integer JSON number, never through a float.
type exactInt64 int64

func (v exactInt64) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(v), 10)), nil
}

func (v *exactInt64) UnmarshalJSON(b []byte) error {
	text := string(b)
	if strings.HasPrefix(text, `"`) {
		var err error
		if text, err = strconv.Unquote(text); err != nil {
			return fmt.Errorf("value %s is not a JSON string", b)
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fmt.Errorf("value %s must be an integer from -9223372036854775808 to 9223372036854775807", b)
	}
	*v = exactInt64(n)
	return nil
}

// newExportID returns a random export id.
func newExportID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes for the export id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// exportWriter writes an export file line by line.
type exportWriter struct {
	w     *bufio.Writer
	count int
}

func newExportWriter(w io.Writer, h exportHeader) (*exportWriter, error) {
	ew := &exportWriter{w: bufio.NewWriter(w)}
	h.Kind, h.Format, h.Version = kindHeader, exportFormat, exportVersion
	return ew, ew.line(h)
}

func (ew *exportWriter) add(id string, shards int32, value int64) error {
	ew.count++
	v := exactInt64(value)
	return ew.line(exportedCounter{Kind: kindCounter, ID: id, ShardCount: shards, Value: &v})
}

// close writes the end line and flushes; without it the file is incomplete.
func (ew *exportWriter) close() error {
	if err := ew.line(exportEnd{Kind: kindEnd, Counters: ew.count}); err != nil {
		return err
	}
	return ew.w.Flush()
}

func (ew *exportWriter) line(v any) error {
	b, err := compactJSON(v)
	if err != nil {
		return err
	}
	_, err = ew.w.Write(b)
	return err
}

// maxExportLine bounds one line: a counter ID is at most 1,500 bytes, at
// most six times that once escaped in JSON.
const maxExportLine = 64 << 10

// readExport reads and checks a whole export file, so that an import of a
// damaged or incomplete file applies nothing. name is the file's name in
// messages.
func readExport(r io.Reader, name string) (*export, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxExportLine)
	var (
		ex     export
		seen   = map[string]int{} // counter ID: line
		lineNo int
		ended  bool
	)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, lineNo, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if ended {
			return nil, fail("a line after the end line")
		}
		// Unmarshal also refuses anything after the object.
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			return nil, fail("not a JSON object: %v", err)
		}
		if lineNo == 1 && kind.Kind != kindHeader {
			return nil, fail("not a tally export: the first line must be its header")
		}
		switch kind.Kind {
		case kindHeader:
			if lineNo != 1 {
				return nil, fail("a second header")
			}
			if err := decodeStrict(line, &ex.header); err != nil {
				return nil, fail("%v", err)
			}
			if err := ex.header.check(); err != nil {
				return nil, fail("%v", err)
			}
		case kindCounter:
			var c exportedCounter
			if err := decodeStrict(line, &c); err != nil {
				return nil, fail("%v", err)
			}
			if err := c.check(); err != nil {
				return nil, fail("%v", err)
			}
			if first, ok := seen[c.ID]; ok {
				return nil, fail("counter %q again (first on line %d)", c.ID, first)
			}
			seen[c.ID] = lineNo
			c.line = lineNo
			ex.counters = append(ex.counters, c)
		case kindEnd:
			var end exportEnd
			if err := decodeStrict(line, &end); err != nil {
				return nil, fail("%v", err)
			}
			if end.Counters != len(ex.counters) {
				return nil, fail("the end line counts %d counters, the file has %d", end.Counters, len(ex.counters))
			}
			ended = true
		default:
			return nil, fail("unknown kind %q", kind.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			lineNo++
			return nil, fail("line longer than %d bytes", maxExportLine)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if lineNo == 0 {
		return nil, fmt.Errorf("%s: empty: not a tally export", name)
	}
	if !ended {
		return nil, fmt.Errorf("%s: incomplete: no end line after %d counters (the export failed or the file was cut short)", name, len(ex.counters))
	}
	return &ex, nil
}

// decodeStrict decodes one line, a single JSON object, into v, refusing
// unknown fields: a file of a later format is refused rather than half
// understood.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (h exportHeader) check() error {
	switch {
	case h.Format != exportFormat:
		return fmt.Errorf("format %q, want %q", h.Format, exportFormat)
	case h.Version != exportVersion:
		return fmt.Errorf("format version %d; this tally reads version %d", h.Version, exportVersion)
	case h.ExportID == "":
		return errors.New("no export_id: the import's idempotency keys derive from it")
	}
	if _, err := time.Parse(time.RFC3339Nano, h.ExportTime); err != nil {
		return fmt.Errorf("export_time: %v", err)
	}
	return nil
}

// maxShards is the API's largest shard count.
const maxShards = 1000

func (c exportedCounter) check() error {
	switch {
	case c.ID == "":
		return errors.New("a counter without an id")
	case !utf8.ValidString(c.ID) || strings.Contains(c.ID, "/"):
		return fmt.Errorf("counter id %q is not valid UTF-8 without \"/\"", c.ID)
	case c.ShardCount < 1 || c.ShardCount > maxShards:
		return fmt.Errorf("counter %q: shard_count %d, want 1 to %d", c.ID, c.ShardCount, maxShards)
	case c.Value == nil:
		return fmt.Errorf("counter %q: no value", c.ID)
	}
	return nil
}

// importKey is the idempotency key number n of a counter's import from
// export h: the same in every run of the same import, different for another
// export, counter or n. keyPrefix is --key-prefix.
func importKey(keyPrefix string, h exportHeader, id string, n int) string {
	hash := sha256.New()
	for _, field := range []string{"tally-import", h.ExportID, h.ExportTime, id, strconv.Itoa(n)} {
		// Length-prefixed, so that no two field lists hash alike.
		hash.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		hash.Write([]byte(field))
	}
	return keyPrefix + hex.EncodeToString(hash.Sum(nil))
}
