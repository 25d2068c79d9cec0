package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Chart layout, in SVG user units.
const (
	chartWidth  = 960
	labelWidth  = 200 // the system names, left of the plot
	plotLeft    = labelWidth + 10
	plotRight   = chartWidth - 70 // room for the value after the longest bar
	barHeight   = 13
	groupGap    = 14
	headerSpace = 78 // title, subtitle, legend
	footerSpace = 40 // the axis labels
)

// barColors are the fills of the bars for the first, second, ... number of clients.
var barColors = []string{"#9ecae1", "#4292c6", "#08519c", "#08306b"}

// notDurableMark follows the name of a store that acknowledges before the increment is on disk.
const notDurableMark = " *"

// SVG writes a horizontal bar chart of the throughput, one group of bars per system (in the
// order they first appear in rows) and one bar per number of clients, on a logarithmic axis.
// The names of stores that are not durable are grey and marked, and the legend says why.
// subtitle is printed under the title (e.g. the date and machine).
func SVG(w io.Writer, rows []Throughput, subtitle string) error {
	var systems []string
	var clients []int
	notDurable := map[string]bool{}
	lo, hi := math.Inf(1), 0.0
	for _, r := range rows {
		if !slices.Contains(systems, r.System) {
			systems = append(systems, r.System)
		}
		if r.NotDurable {
			notDurable[r.System] = true
		}
		if !slices.Contains(clients, r.Clients) {
			clients = append(clients, r.Clients)
		}
		if t := r.Throughput(); t > 0 {
			lo, hi = math.Min(lo, t), math.Max(hi, t)
		}
	}
	slices.Sort(clients)
	if hi == 0 {
		lo, hi = 1, 10
	}
	decLo, decHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if decHi == decLo {
		decHi++
	}
	x := func(v float64) float64 {
		if v <= 0 {
			return plotLeft
		}
		f := (math.Log10(v) - decLo) / (decHi - decLo)
		return plotLeft + math.Max(0, f)*(plotRight-plotLeft)
	}
	groupHeight := len(clients)*barHeight + groupGap
	plotTop := headerSpace
	plotBottom := plotTop + len(systems)*groupHeight
	height := plotBottom + footerSpace

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">Increments per second of one hot counter (log scale; longer is faster)</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="42" font-size="11" fill="#555555">%s</text>`+"\n", html.EscapeString(subtitle))
	for i, c := range clients {
		lx := 10 + i*130
		fmt.Fprintf(&b, `<rect x="%d" y="54" width="12" height="12" fill="%s"/><text x="%d" y="64">%d client%s</text>`+"\n",
			lx, barColors[min(i, len(barColors)-1)], lx+18, c, plural(c))
	}
	if len(notDurable) > 0 {
		fmt.Fprintf(&b, `<text x="%d" y="64" fill="#777777">%s: not durable, acknowledged before the increment is on disk</text>`+"\n",
			10+len(clients)*130+20, strings.TrimSpace(notDurableMark))
	}
	// Decades: grid lines and labels.
	for d := decLo; d <= decHi; d++ {
		gx := x(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>`+"\n", gx, plotTop-4, gx, plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s/s</text>`+"\n", gx, plotBottom+16, decade(d))
	}
	for si, s := range systems {
		gy := plotTop + si*groupHeight
		mid := gy + len(clients)*barHeight/2
		weight, fill, label := "normal", "#000000", s
		if strings.HasPrefix(s, "tallyd") {
			weight = "bold"
		}
		if notDurable[s] {
			fill, label = "#777777", s+notDurableMark
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle" font-weight="%s" fill="%s">%s</text>`+"\n",
			labelWidth, mid, weight, fill, html.EscapeString(label))
		for ci, c := range clients {
			by := gy + ci*barHeight
			for _, r := range rows {
				if r.System != s || r.Clients != c {
					continue
				}
				t := r.Throughput()
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s, %d client%s: %s increments/s, p99 %s</title></rect>`+"\n",
					plotLeft, by, x(t)-plotLeft, barHeight-2, barColors[min(ci, len(barColors)-1)],
					html.EscapeString(s), c, plural(c), Thousands(int64(t+0.5)), FormatLatency(r.P99))
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" dominant-baseline="middle">%s</text>`+"\n", x(t)+4, by+barHeight/2, Short(t))
			}
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", plotLeft, plotTop-4, plotLeft, plotBottom)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// decade labels the axis at 10^d: 10, 100, 1k, 10k, 100k, 1M.
func decade(d float64) string {
	switch n := int(d); {
	case n >= 6:
		return "1" + strings.Repeat("0", n-6) + "M"
	case n >= 3:
		return "1" + strings.Repeat("0", n-3) + "k"
	case n >= 0:
		return "1" + strings.Repeat("0", n)
	}
	return fmt.Sprintf("%g", math.Pow(10, d))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
