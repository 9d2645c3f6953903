package render

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/locale"
	"github.com/storepulse/storepulse/internal/localday"
)

// Colours of the e-mail.
const (
	colourGood    = "#1a7f37"
	colourBad     = "#cf222e"
	colourNeutral = "#57606a"
	colourLine    = "#0969da"
)

// phaseColours colour the Gantt strip by phase.
func phaseColours() map[string]string {
	return map[string]string{"warm-up": "#f2cc60", "pre-sale": "#fb8f44", "peak": "#cf222e", "after-sales": "#8c959f", "activity": "#54aeff"}
}

// ganttCell is one day of one campaign in the strip.
type ganttCell struct {
	Colour, Title string
}

// ganttLabel is a date over Span days of the strip.
type ganttLabel struct {
	Text string
	Span int
}

type ganttRow struct {
	Name, Link string
	Cells      []ganttCell
}

type htmlData struct {
	B       *briefing.Briefing
	Title   string
	Gantt   []ganttRow
	Days    []ganttLabel // column labels of the strip (every 7th day)
	Legend  [][2]string
	Good    template.CSS
	Bad     template.CSS
	Neutral template.CSS
}

func toneColour(tone string) template.CSS {
	switch tone {
	case briefing.ToneGood:
		return colourGood
	case briefing.ToneBad:
		return colourBad
	}
	return colourNeutral
}

// sparkline draws values as an inline SVG polyline (nulls break nothing:
// they are skipped), the last point marked.
func sparkline(vals []*float64) template.HTML {
	const w, h, pad = 120.0, 28.0, 3.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v != nil {
			lo, hi = math.Min(lo, *v), math.Max(hi, *v)
		}
	}
	if math.IsInf(lo, 1) || len(vals) < 2 {
		return ""
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	var pts []string
	var lx, ly float64
	for i, v := range vals {
		if v == nil {
			continue
		}
		lx = pad + (w-2*pad)*float64(i)/float64(len(vals)-1)
		ly = pad + (h-2*pad)*(1-(*v-lo)/(hi-lo))
		pts = append(pts, strconv.FormatFloat(lx, 'f', 1, 64)+","+strconv.FormatFloat(ly, 'f', 1, 64))
	}
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="last %d days">`+
		`<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/><circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/></svg>`,
		w, h, w, h, len(vals), colourLine, strings.Join(pts, " "), lx, ly, colourLine)
	return template.HTML(svg) //nolint:gosec // built from numbers only
}

// gantt lays the rhythm's campaigns on the days of its window.
func gantt(br *briefing.Briefing) ([]ganttRow, []ganttLabel) {
	loc, err := time.LoadLocation(br.TimeZone)
	if err != nil {
		return nil, nil
	}
	from, err := time.ParseInLocation(time.DateOnly, br.Rhythm.From, loc)
	if err != nil {
		return nil, nil
	}
	start := localday.Floor(from, loc)
	var days []time.Time
	for d := start; len(days) < briefing.RhythmDays; d = localday.Next(d, loc) {
		days = append(days, d)
	}
	var labels []ganttLabel
	for i, d := range days {
		if i%7 == 0 {
			labels = append(labels, ganttLabel{Text: d.Format("01-02"), Span: min(7, len(days)-i)})
		}
	}
	colours := phaseColours()
	var rows []ganttRow
	for _, c := range br.Rhythm.Campaigns {
		row := ganttRow{Name: c.Name, Link: c.Link}
		shown := false
		for _, d := range days {
			end := localday.Next(d, loc)
			cell := ganttCell{Colour: "#f6f8fa"}
			for _, p := range c.Phases {
				if p.Start.Before(end) && p.End.After(d) {
					cell = ganttCell{Colour: colours[p.Name], Title: p.Name + " " + d.Format("01-02")}
					if cell.Colour == "" {
						cell.Colour = "#54aeff"
					}
					shown = true
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		if shown {
			rows = append(rows, row)
		}
	}
	return rows, labels
}

func funcs(l locale.Locale) template.FuncMap {
	return template.FuncMap{
		"t": l.T,
		// f formats a translated text; its arguments are escaped unless
		// they are template.HTML (links built by link and badLink).
		"f": func(format string, args ...any) template.HTML {
			for i, a := range args {
				if h, ok := a.(template.HTML); ok {
					args[i] = string(h)
					continue
				}
				args[i] = template.HTMLEscapeString(fmt.Sprint(a))
			}
			return template.HTML(l.F(template.HTMLEscapeString(format), args...)) //nolint:gosec // every argument is escaped
		},
		"link": func(url, text string) template.HTML {
			return template.HTML(`<a href="` + template.HTMLEscapeString(url) + `" style="color:#1f2328">` + template.HTMLEscapeString(text) + `</a>`) //nolint:gosec // escaped
		},
		"badLink": func(url string, text template.HTML) template.HTML {
			return template.HTML(`<a href="` + template.HTMLEscapeString(url) + `" style="color:` + colourBad + `">` + string(text) + `</a>`) //nolint:gosec // text is f's escaped output
		},
		"hoursText": l.Hours,
		"lateDays":  func(s briefing.LateStore) string { return lateDays(l, s) },
		"value":     func(v *float64, unit, currency string) string { return valueIn(l, v, unit, currency) },
		"number":    func(v float64, unit, currency string) string { return numberIn(l, v, unit, currency) },
		"change":    func(v *float64) string { return changeIn(l, v) },
		"pct":       func(v *float64) string { return percentIn(l, v) },
		"arrow":     arrow,
		"tone":      toneColour,
		"spark":     sparkline,
		"impact":    func(im briefing.Impact, currency string) string { return impact(l, im, currency) },
		"hours":     hours,
		"clock":     localClock,
		"age":       func(s float64) string { return (time.Duration(s) * time.Second).String() },
		"upcoming":  func(p briefing.PhasePlan) bool { return p.State != briefing.PhaseEnded },
		"stat": func(label string, v any, colour template.CSS) template.HTML {
			text, ok := v.(template.HTML) // f's output, escaped already
			if !ok {
				text = template.HTML(template.HTMLEscapeString(fmt.Sprint(v))) //nolint:gosec // escaped
			}
			return template.HTML(fmt.Sprintf(`<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap;color:%s">%s <b>%s</b></span>`, //nolint:gosec // escaped
				colour, template.HTMLEscapeString(label), text))
		},
	}
}

const pageHTML = `<!DOCTYPE html>
<html lang="{{.B.Language}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body style="margin:0;padding:0;background:#f6f8fa;font-family:-apple-system,'Segoe UI',Helvetica,Arial,'PingFang SC','Microsoft YaHei',sans-serif;color:#1f2328;font-size:14px;line-height:1.45">
<div style="max-width:680px;margin:0 auto;padding:12px;box-sizing:border-box">
<h1 style="font-size:20px;margin:8px 0 2px">{{.B.Business}}{{if .B.Store}}{{f " · store %s" .B.Store}}{{end}}</h1>
<div style="color:#57606a;margin-bottom:12px">{{f "Morning briefing for %s, %s (%s)" .B.Weekday .B.Date .B.TimeZone}} · <a href="{{.B.Link}}" style="color:#0969da">{{t "wall screen"}}</a></div>

<h2 style="font-size:16px;margin:16px 0 6px">{{t "1. Yesterday at a glance"}}</h2>
{{range .B.Glance}}<div style="background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:0 0 8px;overflow:hidden">
<table role="presentation" style="width:100%;border-collapse:collapse"><tr>
<td style="vertical-align:top;padding:0"><a href="{{.Link}}" style="color:#1f2328;text-decoration:none;font-weight:600">{{.Name}}</a><br>
<span style="font-size:20px;font-weight:700">{{value .Value .Unit $.B.Currency}}</span></td>
<td style="vertical-align:middle;text-align:right;padding:0;width:124px">{{spark .Spark}}</td></tr></table>
<div style="font-size:12px;margin-top:4px">{{stat (t "vs last week") (printf "%s %s" (arrow .Change) (change .Change)) (tone .ChangeTone)}}{{if .Attainment}}{{stat (t "target") (pct .Attainment) (tone .TargetTone)}}{{end}}{{if .WeekToDate.Attainment}}{{stat (t "WTD") (pct .WeekToDate.Attainment) (tone .WeekToDate.Tone)}}{{end}}{{if .MonthToDate.Attainment}}{{stat (t "MTD") (pct .MonthToDate.Attainment) (tone .MonthToDate.Tone)}}{{end}}{{with .Forecast}}{{if .Attainment}}{{stat (t "month forecast") (f "%s of target" (pct .Attainment)) (tone .Tone)}}{{end}}{{end}}</div>
</div>{{end}}

<h2 style="font-size:16px;margin:16px 0 6px">{{t "2. What changed"}}</h2>
{{if .B.NothingUnusual}}<div style="background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px">{{t "Nothing unusual: every KPI stayed within its normal range."}}</div>{{end}}
{{range .B.Changes}}<div style="background:#fff;border:1px solid #d0d7de;border-left:4px solid {{tone .Tone}};border-radius:6px;padding:8px 10px;margin:0 0 8px">
<div style="font-weight:600"><span style="color:#57606a">{{.Rank}}.</span> <a href="{{.Link}}" style="color:{{tone .Tone}}">{{.Name}}</a>{{if .Store}}{{f " · store %s" .Store}}{{end}}{{if .Category}} · {{.Category}}{{end}} {{t .Direction}}</div>
<div>{{f "%s against %s expected (normal %s – %s)" (number .Value .Unit $.B.Currency) (number .Expected .Unit $.B.Currency) (number .Lower .Unit $.B.Currency) (number .Upper .Unit $.B.Currency)}} · {{t "impact"}} <b>{{impact .Impact $.B.Currency}}</b>{{with hours $.B .}} · {{t "unusual hours"}} {{.}}{{end}}</div>
{{if .Reasons}}<div style="margin-top:4px;font-weight:600">{{t "Why"}}</div><ul style="margin:2px 0 0;padding-left:18px">{{range .Reasons}}<li>{{if .Link}}<a href="{{.Link}}" style="color:#1f2328">{{.Text}}</a>{{else}}{{.Text}}{{end}}</li>{{end}}</ul>{{end}}
{{if .Actions}}<div style="margin-top:4px;font-weight:600">{{t "What to do"}}</div><ul style="margin:2px 0 0;padding-left:18px">{{range .Actions}}<li>{{.Action}} <span style="color:#57606a">— {{.Owner}} · {{f "rule %s" .Rule}}</span></li>{{end}}</ul>{{end}}
</div>{{end}}

<h2 style="font-size:16px;margin:16px 0 6px">{{t "3. Rhythm"}}</h2>
<div style="background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px">
{{if not .B.Rhythm.Campaigns}}{{t "No campaign in the next 30 days."}}{{end}}
<ul style="margin:0 0 6px;padding-left:18px">{{range .B.Rhythm.Campaigns}}{{$c := .}}{{range .Phases}}{{if upcoming .}}<li><a href="{{$c.Link}}" style="color:#1f2328">{{.Text}}</a></li>{{end}}{{end}}{{end}}</ul>
{{if .Gantt}}<table role="presentation" style="width:100%;border-collapse:collapse;table-layout:fixed;font-size:11px">
<tr>{{range .Days}}<td colspan="{{.Span}}" style="color:#57606a;padding:0 0 2px;overflow:hidden;white-space:nowrap">{{.Text}}</td>{{end}}</tr>
{{range .Gantt}}<tr><td colspan="30" style="padding:4px 0 1px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis"><a href="{{.Link}}" style="color:#1f2328">{{.Name}}</a></td></tr>
<tr>{{range .Cells}}<td title="{{.Title}}" style="height:10px;padding:0;background:{{.Colour}};border-right:1px solid #fff"></td>{{end}}</tr>{{end}}
</table>
<div style="font-size:11px;color:#57606a;margin-top:4px">{{range .Legend}}<span style="white-space:nowrap;margin-right:8px"><span style="display:inline-block;width:9px;height:9px;background:{{index . 1}}"></span> {{t (index . 0)}}</span> {{end}}</div>{{end}}
{{range .B.Rhythm.Uplift}}<div style="margin-top:6px">{{f "%s: GMV %s against %s a day before it (%s); %s over the campaign so far" (link .Link .Name) (value .Day "currency" $.B.Currency) (value .Baseline "currency" $.B.Currency) (change .DayUplift) (change .ToDate)}}</div>{{end}}
</div>

<h2 style="font-size:16px;margin:16px 0 6px">{{t "4. Data quality"}}</h2>
<div style="background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px">
{{with .B.Quality}}{{if and (not .Silent) (not .Stale)}}<div>{{t "Every store sent data."}}</div>{{end}}
{{range .Silent}}<div style="color:{{$.Bad}}">{{f "%s: no events for %s (%s – %s)" (badLink .Link (f "store %s" .Store)) (hoursText .Hours) (clock $.B .From) (clock $.B .To)}}</div>{{end}}
{{range .Stale}}<div style="color:{{$.Bad}}">{{f "%s: newest data %s old" (badLink .Link (f "store %s" .Store)) (age .Age)}}</div>{{end}}
{{range .Late}}<div>{{f "%s: late data changed %s: %s events, GMV %s, paid %s, refunds %s" (link .Link (printf (t "store %s") .Store)) (lateDays .) (number .Events "count" $.B.Currency) (number .GMV "currency" $.B.Currency) (number .PaidAmount "currency" $.B.Currency) (number .RefundAmount "currency" $.B.Currency)}}</div>{{end}}
{{if and .LateChecked (not .Late)}}<div>{{t "No late data changed past days."}}</div>{{end}}
{{with .Rejected}}<div>{{f "rejected input: %d dead-letter files, %d quarantined files (%d new on the day)" .DeadLetterFiles .QuarantineFiles .NewOnDay}}</div>{{end}}
{{range .NotChecked}}<div style="color:#57606a;font-size:12px">{{t "Not checked: "}}{{.}}</div>{{end}}{{end}}
</div>
<div style="color:#57606a;font-size:11px;margin:14px 0">StorePulse · {{f "generated %s · changes are beyond %v spreads of their normal range" (.B.GeneratedAt.Format "2006-01-02 15:04 MST") .B.Sensitivity}}</div>
</div></body></html>
`

// HTML is the briefing as an e-mail: inline CSS, inline SVG sparklines and
// a table Gantt strip, no JavaScript, no images.
func HTML(br *briefing.Briefing) ([]byte, error) {
	rows, days := gantt(br)
	var legend [][2]string
	for _, p := range []string{"warm-up", "pre-sale", "peak", "after-sales", "activity"} {
		legend = append(legend, [2]string{p, phaseColours()[p]})
	}
	data := htmlData{B: br, Title: title(br), Gantt: rows, Days: days, Legend: legend, Good: colourGood, Bad: colourBad, Neutral: colourNeutral}
	page, err := template.New("briefing").Funcs(funcs(lang(br))).Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("render: html template: %w", err)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render: html: %w", err)
	}
	return buf.Bytes(), nil
}
