package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// The SVG chart: one panel per group of figures, cluster size N on the x
// axis, the median of each figure as a line with its min-max range as a
// whisker, the target as a dashed line and, for the per-node costs,
// a dotted line that grows linearly in N from the smallest cluster: a cost
// under it grows no faster than linearly.

const (
	svgCols, svgPanelW, svgPanelH = 3, 380, 260
	svgTop, svgBottom             = 50, 30
	plotL, plotR, plotT, plotB    = 55, 15, 30, 42
)

var svgColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

// writeSVG draws the report's N-scaling.
func writeSVG(w io.Writer, r Report) error {
	rows := (len(panels) + svgCols - 1) / svgCols
	width, height := svgCols*svgPanelW, svgTop+rows*svgPanelH+svgBottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("orgpeer bench: N-scaling, %d organizations, %s preset", r.Settings.Orgs, r.Settings.Preset)))
	sub := fmt.Sprintf("median over %d run(s), bar: min-max · %d cores, %s · %s", r.Settings.Runs, r.Machine.CPUs, r.Machine.CPUModel, r.When.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">%s</text>`+"\n", esc(sub))
	for i, title := range panels {
		x0, y0 := (i%svgCols)*svgPanelW, svgTop+(i/svgCols)*svgPanelH
		drawPanel(&b, r, i, title, x0, y0)
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", height-10,
		esc("dashed: target at N = 20 · dotted: linear growth in N from the smallest cluster (per-node costs)"))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func drawPanel(b *strings.Builder, r Report, panel int, title string, x0, y0 int) {
	var ms []Metric
	for _, m := range Metrics {
		if m.Panel == panel {
			ms = append(ms, m)
		}
	}
	maxN, yMax := 1.0, 0.0
	for _, s := range r.Results {
		maxN = max(maxN, float64(s.Nodes))
		for _, m := range ms {
			yMax = max(yMax, s.Summary[m.Key].Max, m.Target)
		}
	}
	step := niceStep(yMax * 1.1 / 4)
	yTop := step * math.Ceil(yMax*1.1/step)
	if yTop == 0 {
		yTop = 1
	}
	pw, ph := float64(svgPanelW-plotL-plotR), float64(svgPanelH-plotT-plotB)
	px := func(n float64) float64 { return float64(x0+plotL) + n/maxN*pw }
	py := func(v float64) float64 { return float64(y0+plotT) + ph - v/yTop*ph }

	clip := fmt.Sprintf("clip%d", panel)
	fmt.Fprintf(b, `<clipPath id="%s"><rect x="%d" y="%d" width="%.0f" height="%.0f"/></clipPath>`+"\n", clip, x0+plotL, y0+plotT, pw, ph)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", x0+plotL, y0+plotT-12, esc(title))
	// Axes, grid and ticks.
	for v := 0.0; v <= yTop+step/2; v += step {
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x0+plotL, px(maxN), py(v), py(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#333">%s</text>`+"\n", x0+plotL-5, py(v)+4, fmtFigure(v))
	}
	for _, s := range r.Results {
		n := float64(s.Nodes)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`+"\n", px(n), px(n), py(0), py(0)+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%d</text>`+"\n", px(n), py(0)+15, s.Nodes)
	}
	fmt.Fprintf(b, `<path d="M%d %.1f V%.1f H%.1f" fill="none" stroke="#333"/>`+"\n", x0+plotL, py(yTop), py(0), px(maxN))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">nodes (N)</text>`+"\n", px(maxN/2), py(0)+30)

	for k, m := range ms {
		color := svgColors[k%len(svgColors)]
		if m.Target > 0 {
			fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4" opacity="0.7"/>`+"\n",
				x0+plotL, px(maxN), py(m.Target), py(m.Target), color)
		}
		var pts []string
		for _, s := range r.Results {
			sp := s.Summary[m.Key]
			x := px(float64(s.Nodes))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, py(sp.Median)))
			if sp.Max > sp.Min {
				fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2" clip-path="url(#%s)"/>`+"\n", x, x, py(sp.Min), py(sp.Max), color, clip)
			}
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s N=%d: %s</title></circle>`+"\n", x, py(sp.Median), color, m.Key, s.Nodes, fmtFigure(sp.Median))
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(pts, " "), color)
		// A per-node cost: the linear reference from the smallest cluster.
		if panel > 0 && k == 0 && len(r.Results) > 1 {
			first := r.Results[0]
			v0, n0 := first.Summary[m.Key].Median, float64(first.Nodes)
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#777" stroke-dasharray="2 3" clip-path="url(#%s)"/>`+"\n",
				px(n0), px(maxN), py(v0), py(v0*maxN/n0), clip)
		}
	}
	// The legend, last, on a white box over the grid's top left corner.
	labels := make([]string, len(ms))
	longest := 0
	for k, m := range ms {
		labels[k] = m.Key
		if m.Target > 0 {
			labels[k] += " (target " + fmtFigure(m.Target) + ")"
		}
		longest = max(longest, len(labels[k]))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="white" opacity="0.85"/>`+"\n",
		x0+plotL+4, y0+plotT+2, 22+longest*6, 14*len(ms)+4)
	for k, label := range labels {
		color := svgColors[k%len(svgColors)]
		ly := y0 + plotT + 12 + 14*k
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/>`+"\n", x0+plotL+8, ly-4, color)
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", x0+plotL+22, ly, color, esc(label))
	}
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string { return html.EscapeString(s) }
