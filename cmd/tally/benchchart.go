package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"text/template"
	"time"
)

// The chart's geometry, in SVG user units.
const (
	chartWidth  = 760
	chartLeft   = 70 // room for the y-axis labels
	chartRight  = 20
	chartTop    = 64 // room for the title and the first label
	panelHeight = 150
	panelGap    = 50
	chartBottom = 40 // room for the x-axis labels
)

var chartTemplate = template.Must(template.New("chart").Funcs(template.FuncMap{
	"x":      xmlText,
	"labelX": func(left int) int { return left - 6 },
}).Parse(
	`<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" font-family="sans-serif" font-size="12">
<title>{{x .Title}}</title>
<rect width="{{.Width}}" height="{{.Height}}" fill="white"/>
<text x="{{.Left}}" y="22" font-size="14">{{x .Title}}</text>
{{- range .Panels}}
<g>
<text x="{{$.Left}}" y="{{.LabelY}}" font-weight="bold">{{x .Label}}</text>
{{- range .Grid}}
<line x1="{{$.Left}}" y1="{{.Y}}" x2="{{$.Right}}" y2="{{.Y}}" stroke="#dddddd"/>
<text x="{{$.Left | labelX}}" y="{{.Y}}" dy="4" text-anchor="end">{{x .Text}}</text>
{{- end}}
<polyline fill="none" stroke="{{.Color}}" stroke-width="1.5" points="{{.Points}}"/>
</g>
{{- end}}
{{- range .Ticks}}
<text x="{{.X}}" y="{{$.TickY}}" text-anchor="middle">{{x .Text}}</text>
{{- end}}
</svg>
`))

type chartData struct {
	Title              string
	Width, Height      int
	Left, Right, TickY int
	Panels             []chartPanel
	Ticks              []chartTick
}

type chartPanel struct {
	Label  string
	LabelY int
	Color  string
	Grid   []chartGrid
	Points string
}

type chartGrid struct {
	Y    float64
	Text string
}

type chartTick struct {
	X    float64
	Text string
}

// writeBenchChart draws the successful calls per second and the p99
// latency of each second of the run, as steps over time.
func writeBenchChart(w io.Writer, title string, seconds []benchSecond) error {
	var total time.Duration
	for _, s := range seconds {
		total = max(total, s.start+s.length)
	}
	total = max(total, time.Second)
	d := chartData{Title: title, Width: chartWidth, Height: chartTop + 2*panelHeight + panelGap + chartBottom,
		Left: chartLeft, Right: chartWidth - chartRight}
	plotWidth := float64(d.Right - d.Left)
	xOf := func(t time.Duration) float64 { return float64(d.Left) + plotWidth*t.Seconds()/total.Seconds() }

	throughput := make([]float64, len(seconds))
	p99 := make([]float64, len(seconds))
	for i, s := range seconds {
		throughput[i] = float64(s.ok) / max(s.length.Seconds(), 1e-9)
		p99[i] = float64(s.p99) / 1e6
		if s.ok == 0 {
			p99[i] = math.NaN() // no successful call to take a latency of: no line, rather than a dip to 0
		}
	}
	for i, p := range []struct {
		label, color string
		values       []float64
		unit         func(float64) string
	}{
		{"successful calls/s", "#1f77b4", throughput, func(v float64) string { return groupDigits(int64(math.Round(v))) }},
		{"p99 latency, ms", "#d62728", p99, func(v float64) string { return strconvG(v) }},
	} {
		top := chartTop + i*(panelHeight+panelGap)
		bottom := float64(top + panelHeight)
		ceiling := niceCeiling(p.values)
		yOf := func(v float64) float64 { return bottom - float64(panelHeight)*min(v, ceiling)/ceiling }
		panel := chartPanel{Label: p.label, LabelY: top - 8, Color: p.color}
		for _, f := range []float64{0, 0.5, 1} {
			panel.Grid = append(panel.Grid, chartGrid{Y: round1(yOf(f * ceiling)), Text: p.unit(f * ceiling)})
		}
		var pts []string
		for j, s := range seconds {
			if math.IsNaN(p.values[j]) {
				continue
			}
			y := round1(yOf(p.values[j]))
			pts = append(pts, fmt.Sprintf("%g,%g %g,%g", round1(xOf(s.start)), y, round1(xOf(s.start+s.length)), y))
		}
		panel.Points = strings.Join(pts, " ")
		d.Panels = append(d.Panels, panel)
	}
	d.TickY = chartTop + 2*panelHeight + panelGap + 20
	step := tickStep(total)
	for t := time.Duration(0); t <= total; t += step {
		d.Ticks = append(d.Ticks, chartTick{X: round1(xOf(t)), Text: fmt.Sprintf("%gs", t.Seconds())})
	}
	return chartTemplate.Execute(w, d)
}

// niceCeiling returns the smallest of 1, 2 or 5 times a power of ten that
// is at least the largest value, and 1 if there is none above 0.
func niceCeiling(values []float64) float64 {
	top := 0.0
	for _, v := range values {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			top = max(top, v)
		}
	}
	if top <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(top)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= top {
			return m * p
		}
	}
	return 10 * p
}

// tickStep spaces the time axis's labels: about ten of them.
func tickStep(total time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute} {
		if total/s <= 10 {
			return s
		}
	}
	return time.Hour * max(1, total/(10*time.Hour))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func strconvG(v float64) string { return fmt.Sprintf("%.3g", v) }

// xmlText escapes s for an XML text node or attribute.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
