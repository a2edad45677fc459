package embed

import (
	"fmt"
	"time"

	"github.com/steelengine/steelengine/store"
)

// chart is a server-rendered SVG of executions per bucket (errors stacked on top, in
// the error colour) with the error rate as a line; coordinates are computed here so
// the template only places them.
type chart struct {
	Width, Height float64
	Bars          []bar
	Line          string // polyline points of the error rate (0–100 % on the full height)
	MaxCount      int64
	YTicks        []tick
	XTicks        []tick
	Summary       string // text alternative for screen readers
	Empty         bool
}

type bar struct {
	X, W, OKY, OKH, ErrY, ErrH float64
	Title                      string
}

type tick struct {
	Pos   float64
	Label string
}

const (
	chartW, chartH = 720.0, 200.0
	padL, padB     = 40.0, 22.0
	padT           = 8.0
)

func newChart(bs []store.MetricsBucket, start, end time.Time, bucket time.Duration) *chart {
	c := &chart{Width: chartW, Height: chartH}
	start = start.Truncate(bucket)
	n := int(end.Sub(start)/bucket) + 1
	if n < 1 {
		n = 1
	}
	if n > 400 {
		n = 400
		start = end.Add(-bucket * time.Duration(n-1)).Truncate(bucket)
	}
	byStart := map[int64]store.MetricsBucket{}
	var total, errs int64
	for _, b := range bs {
		byStart[b.Start.Truncate(bucket).Unix()] = b
		c.MaxCount = max(c.MaxCount, b.Count)
		total += b.Count
		errs += b.Errors
	}
	c.Empty = total == 0
	maxC := max(c.MaxCount, 1)
	plotW, plotH := chartW-padL-4, chartH-padB-padT
	slot := plotW / float64(n)
	var line []string
	for i := 0; i < n; i++ {
		t := start.Add(bucket * time.Duration(i))
		b := byStart[t.Unix()]
		x := padL + slot*float64(i)
		okH := float64(b.Count-b.Errors) / float64(maxC) * plotH
		errH := float64(b.Errors) / float64(maxC) * plotH
		base := padT + plotH
		c.Bars = append(c.Bars, bar{X: x + slot*0.1, W: slot * 0.8, OKY: base - okH, OKH: okH, ErrY: base - okH - errH, ErrH: errH,
			Title: fmt.Sprintf("%s: %d executions, %d errors", t.Local().Format("Jan 2 15:04"), b.Count, b.Errors)})
		if b.Count > 0 {
			line = append(line, fmt.Sprintf("%.1f,%.1f", x+slot/2, base-b.ErrorRate*plotH))
		}
	}
	if len(line) > 1 {
		c.Line = fmt.Sprint(line)
		c.Line = c.Line[1 : len(c.Line)-1]
	}
	c.YTicks = append(c.YTicks, tick{Pos: padT + plotH, Label: "0"}, tick{Pos: padT, Label: fmt.Sprint(maxC)})
	if maxC%2 == 0 {
		c.YTicks = append(c.YTicks, tick{Pos: padT + plotH/2, Label: fmt.Sprint(maxC / 2)})
	}
	step := max(n/6, 1)
	layout := "15:04"
	if bucket >= 24*time.Hour || end.Sub(start) > 48*time.Hour {
		layout = "Jan 2"
	}
	for i := 0; i < n; i += step {
		c.XTicks = append(c.XTicks, tick{Pos: padL + slot*float64(i) + slot/2, Label: start.Add(bucket * time.Duration(i)).Local().Format(layout)})
	}
	rate := 0.0
	if total > 0 {
		rate = float64(errs) / float64(total) * 100
	}
	c.Summary = fmt.Sprintf("%d executions, %d errors (%.1f%% error rate) between %s and %s.", total, errs, rate,
		start.Local().Format("Jan 2 15:04"), end.Local().Format("Jan 2 15:04"))
	return c
}
