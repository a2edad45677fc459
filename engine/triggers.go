package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ScheduleSpec is a schedule trigger block read as Sim reads it
// (apps/sim/lib/workflows/schedules/utils.ts getScheduleTimeValues and
// generateCronExpression): a five-field cron expression in local time, and the IANA
// timezone it is evaluated in.
type ScheduleSpec struct {
	Cron     string
	Timezone string
	loc      *time.Location
	sched    cron.Schedule
}

// cronParser accepts what Sim's croner accepts in practice: five fields, an optional
// leading seconds field, and @hourly-style descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// dayMap is Sim's DAY_MAP; an unknown day falls back to Monday as in Sim.
var dayMap = map[string]int{"MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6, "SUN": 0}

// ParseSchedule reads a schedule block's subBlocks: scheduleType minutes|hourly|daily|
// weekly|monthly|custom (cron is accepted as a synonym of custom), minutesInterval
// (default 15), hourlyMinute (0), dailyTime/weeklyDayTime/monthlyTime "HH:MM" (09:00),
// weeklyDay MON…SUN, monthlyDay (1), cronExpression, timezone (UTC).
func ParseSchedule(b *Block) (*ScheduleSpec, error) {
	str := func(id string) string { return strings.TrimSpace(toStr(b.Param(id))) }
	intOr := func(id string, def int) int {
		// parseInt semantics: leading digits count, anything unparsable (or 0) is the default.
		s := str(id)
		end := 0
		for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && s[end] == '-') {
			end++
		}
		n, err := strconv.Atoi(s[:end])
		if err != nil || n == 0 {
			return def
		}
		return n
	}
	hm := func(id string) (int, int) {
		s := str(id)
		h, m, ok := strings.Cut(s, ":")
		if !ok {
			return 9, 0
		}
		hh, err1 := strconv.Atoi(strings.TrimSpace(h))
		mm, err2 := strconv.Atoi(strings.TrimSpace(m))
		if err1 != nil {
			hh = 9
		}
		if err2 != nil {
			mm = 0
		}
		return hh, mm
	}
	typ := str("scheduleType")
	if typ == "" {
		typ = "daily" // the block's default value
	}
	var expr string
	switch typ {
	case "minutes":
		expr = fmt.Sprintf("*/%d * * * *", intOr("minutesInterval", 15))
	case "hourly":
		expr = fmt.Sprintf("%d * * * *", intOr("hourlyMinute", 0))
	case "daily":
		h, m := hm("dailyTime")
		expr = fmt.Sprintf("%d %d * * *", m, h)
	case "weekly":
		h, m := hm("weeklyDayTime")
		day, ok := dayMap[strings.ToUpper(str("weeklyDay"))]
		if !ok {
			day = 1
		}
		// Sim's `DAY_MAP[x] || 1` turns Sunday (0) into Monday; a Sunday schedule that
		// fires on Monday would surprise every user, so Sunday stays Sunday here.
		expr = fmt.Sprintf("%d %d * * %d", m, h, day)
	case "monthly":
		h, m := hm("monthlyTime")
		expr = fmt.Sprintf("%d %d %d * *", m, h, intOr("monthlyDay", 1))
	case "custom", "cron":
		expr = str("cronExpression")
		if expr == "" {
			return nil, fmt.Errorf("custom schedule requires a cron expression")
		}
	default:
		return nil, fmt.Errorf("unsupported schedule type %q (minutes, hourly, daily, weekly, monthly or custom)", typ)
	}
	tz := str("timezone")
	if tz == "" {
		tz = "UTC"
	}
	return NewSchedule(expr, tz)
}

// NewSchedule parses a cron expression evaluated in timezone tz.
func NewSchedule(expr, tz string) (*ScheduleSpec, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown timezone %q", tz)
	}
	// croner reads day-of-week 7 as Sunday; robfig/cron only knows 0.
	fields := strings.Fields(expr)
	if n := len(fields); n >= 5 && !strings.HasPrefix(expr, "@") {
		fields[n-1] = strings.ReplaceAll(fields[n-1], "7", "0")
	}
	sched, err := cronParser.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	spec := &ScheduleSpec{Cron: expr, Timezone: tz, loc: loc, sched: sched}
	if spec.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("cron expression %q produces no future occurrences", expr)
	}
	return spec, nil
}

// Next returns the first fire time strictly after t (zero if there is none).
func (s *ScheduleSpec) Next(t time.Time) time.Time {
	n := s.sched.Next(t.In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// WebhookSpec is a generic webhook trigger block's delivery settings
// (apps/sim/triggers/generic/webhook.ts, apps/sim/lib/webhooks/providers/generic.ts).
type WebhookSpec struct {
	// Path is the URL segment after /api/webhooks/trigger/: the triggerPath subBlock,
	// else the block id (apps/sim/lib/webhooks/deploy.ts).
	Path string
	// RequireAuth, Token and SecretHeader are Sim's token check: the token in
	// SecretHeader when set, else as Authorization: Bearer.
	RequireAuth  bool
	Token        string
	SecretHeader string
	// HMACSecret (SteelEngine's addition, subBlock hmacSecret) requires a hex
	// HMAC-SHA256 of the raw body in HMACHeader (subBlock hmacHeader, default
	// X-Webhook-Signature), optionally prefixed "sha256=".
	HMACSecret string
	HMACHeader string
}

// DefaultHMACHeader carries the body signature when hmacHeader is not set.
const DefaultHMACHeader = "X-Webhook-Signature"

// ParseWebhook reads a generic_webhook block. Token and HMAC secret may be {{ENV}}
// references; the caller resolves them against the workspace's variables.
func ParseWebhook(b *Block) *WebhookSpec {
	str := func(id string) string { return strings.TrimSpace(toStr(b.Param(id))) }
	w := &WebhookSpec{Path: str("triggerPath"), Token: str("token"), SecretHeader: str("secretHeaderName"),
		HMACSecret: str("hmacSecret"), HMACHeader: str("hmacHeader")}
	if w.Path == "" {
		w.Path = b.ID
	}
	w.Path = strings.Trim(w.Path, "/")
	switch v := b.Param("requireAuth").(type) {
	case bool:
		w.RequireAuth = v
	case string:
		w.RequireAuth = v == "true"
	}
	if w.HMACHeader == "" {
		w.HMACHeader = DefaultHMACHeader
	}
	return w
}

func init() {
	RegisterDeployCheck(TypeSchedule, func(b *Block) []BlockProblem {
		if _, err := ParseSchedule(b); err != nil {
			return []BlockProblem{{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemInvalid,
				Message: "schedule: " + err.Error(), Hint: "fix the schedule's frequency, time, cron expression or timezone"}}
		}
		return nil
	})
	RegisterDeployCheck(TypeWebhook, func(b *Block) []BlockProblem {
		w := ParseWebhook(b)
		var probs []BlockProblem
		if w.RequireAuth && w.Token == "" {
			probs = append(probs, BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemInvalid,
				Message: "webhook requires authentication but has no token", Hint: "set the Authentication Token (a {{ENV}} reference works) or turn Require Authentication off"})
		}
		if strings.ContainsAny(w.Path, "/?#% ") {
			probs = append(probs, BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemInvalid,
				Message: "webhook path " + strconv.Quote(w.Path) + " must be one URL segment", Hint: "use letters, digits, - and _"})
		}
		return probs
	})
}
