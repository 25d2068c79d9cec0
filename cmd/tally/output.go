package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// timeLayout shows the microsecond precision of the server's times, at a
// fixed width so that columns line up.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// printer writes results for humans, or as one JSON object per line.
type printer struct {
	w    io.Writer
	json bool
}

// result prints m as JSON, or human as a line of text.
func (p *printer) result(m proto.Message, human string) error {
	if p.json {
		return p.jsonLine(m)
	}
	_, err := fmt.Fprintln(p.w, human)
	return err
}

// jsonLine prints m in the proto JSON mapping (the API's field names) on one
// line. Zero values are included so that scripts always find every field.
func (p *printer) jsonLine(m proto.Message) error {
	raw, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	// protojson varies its whitespace on purpose; compact it so that each
	// object is exactly one line.
	var line bytes.Buffer
	if err := json.Compact(&line, raw); err != nil {
		return fmt.Errorf("encoding %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	line.WriteByte('\n')
	_, err = p.w.Write(line.Bytes())
	return err
}

// counterTable prints counters as aligned columns, or as JSON lines.
type counterTable struct {
	p      *printer
	tw     *tabwriter.Writer
	values bool
	rows   int
}

func (p *printer) newCounterTable(values bool) *counterTable {
	return &counterTable{p: p, tw: tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0), values: values}
}

func (t *counterTable) add(c *tallyv1.Counter) error {
	if t.p.json {
		return t.p.jsonLine(c)
	}
	if t.rows == 0 {
		t.row("COUNTER", "VALUE", "SHARDS", "CREATED", "UPDATED")
	}
	t.rows++
	t.row(displayID(c.GetName()), strconv.FormatInt(c.GetValue(), 10),
		strconv.Itoa(int(c.GetShardCount())), formatTime(c.GetCreateTime()), formatTime(c.GetUpdateTime()))
	return nil
}

func (t *counterTable) row(id, value, shards, created, updated string) {
	if t.values {
		fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%s\n", id, value, shards, created, updated)
	} else {
		fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\n", id, shards, created, updated)
	}
}

// flush writes the table; the tabwriter reports any write error here.
func (t *counterTable) flush() error {
	return t.tw.Flush()
}

// displayID shows a counter by its ID; the prefix is the same on every row.
func displayID(name string) string {
	if id, ok := strings.CutPrefix(name, namePrefix); ok && id != "" {
		return id
	}
	return name
}

func formatTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(timeLayout)
}

// commitLine is the human form of a write's outcome.
func commitLine(commit *timestamppb.Timestamp, duplicate bool) string {
	line := "committed at " + formatTime(commit)
	if duplicate {
		line += " (duplicate)"
	}
	return line
}
