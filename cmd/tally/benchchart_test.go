package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgSummary is what a chart's XML holds: checked to be well formed.
type svgSummary struct {
	root      xml.Name
	title     string
	polylines []string // their points
	texts     []string
}

func parseSVG(t *testing.T, data []byte) svgSummary {
	t.Helper()
	var s svgSummary
	dec := xml.NewDecoder(bytes.NewReader(data))
	var inTitle, inText bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if s.root.Local == "" {
				s.root = tok.Name
			}
			inTitle, inText = tok.Name.Local == "title", tok.Name.Local == "text"
			if tok.Name.Local == "polyline" {
				for _, a := range tok.Attr {
					if a.Name.Local == "points" {
						s.polylines = append(s.polylines, a.Value)
					}
				}
			}
		case xml.CharData:
			switch {
			case inTitle:
				s.title += string(tok)
			case inText:
				s.texts = append(s.texts, string(tok))
			}
		case xml.EndElement:
			inTitle, inText = false, false
		}
	}
	return s
}

func TestBenchChart(t *testing.T) {
	second := func(i int, ok uint64, p99 time.Duration) benchSecond {
		return benchSecond{start: time.Duration(i) * time.Second, length: time.Second, ok: ok, p99: p99}
	}
	tests := []struct {
		name    string
		title   string
		seconds []benchSecond
		labels  []string // texts the chart shows
	}{
		{"no seconds", "empty", nil, []string{"0s", "1s"}},
		{"one short second", "short", []benchSecond{{length: 300 * time.Millisecond, ok: 300, p99: 2 * time.Millisecond}},
			[]string{"1,000", "0s"}},
		{"a stall", "a <stall> & more", []benchSecond{second(0, 4000, 3*time.Millisecond), second(1, 0, 0),
			second(2, 3900, 40*time.Millisecond)}, []string{"5,000", "50", "0s", "2s"}},
		{"a long run", "long", func() []benchSecond {
			var s []benchSecond
			for i := range 600 {
				s = append(s, second(i, uint64(10000+i), time.Duration(i)*time.Microsecond))
			}
			return s
		}(), []string{"20,000", "0s", "600s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeBenchChart(&b, tc.title, tc.seconds); err != nil {
				t.Fatal(err)
			}
			svg := parseSVG(t, b.Bytes())
			if svg.root != (xml.Name{Space: "http://www.w3.org/2000/svg", Local: "svg"}) {
				t.Errorf("root element %+v, want svg in the SVG namespace", svg.root)
			}
			if svg.title != tc.title {
				t.Errorf("title %q, want %q", svg.title, tc.title)
			}
			if len(svg.polylines) != 2 {
				t.Fatalf("%d polylines, want 2 (throughput and p99)", len(svg.polylines))
			}
			served := 0 // seconds with a successful call, which alone have a p99 to draw
			for _, s := range tc.seconds {
				if s.ok > 0 {
					served++
				}
			}
			for i, pts := range svg.polylines {
				fields := strings.Fields(pts)
				if want := 2 * []int{len(tc.seconds), served}[i]; len(fields) != want {
					t.Errorf("polyline %d has %d points for %d seconds (%d with a successful call), want %d", i, len(fields), len(tc.seconds), served, want)
				}
				for _, f := range fields {
					x, y, ok := strings.Cut(f, ",")
					xv, errX := strconv.ParseFloat(x, 64)
					yv, errY := strconv.ParseFloat(y, 64)
					if !ok || errX != nil || errY != nil || xv < chartLeft || xv > chartWidth-chartRight || yv < chartTop || yv > chartTop+2*panelHeight+panelGap {
						t.Errorf("point %q is outside the plot", f)
					}
				}
			}
			texts := strings.Join(svg.texts, "|")
			for _, l := range tc.labels {
				if !strings.Contains("|"+texts+"|", "|"+l+"|") {
					t.Errorf("chart lacks the label %q; it has %s", l, texts)
				}
			}
		})
	}
}

func TestNiceCeiling(t *testing.T) {
	tests := []struct {
		values []float64
		want   float64
	}{
		{nil, 1}, {[]float64{0}, 1}, {[]float64{0.3}, 0.5}, {[]float64{1}, 1}, {[]float64{1.01}, 2},
		{[]float64{3, 4100}, 5000}, {[]float64{9999}, 10000}, {[]float64{120}, 200},
	}
	for _, tc := range tests {
		if got := niceCeiling(tc.values); got != tc.want {
			t.Errorf("niceCeiling(%v) = %g, want %g", tc.values, got, tc.want)
		}
	}
}
