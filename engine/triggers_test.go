package engine

import (
	"testing"
	"time"
)

// Schedule subBlocks read as Sim reads them (apps/sim/lib/workflows/schedules/utils.ts
// getScheduleTimeValues defaults; generateCronExpression; croner with the timezone).
func TestParseSchedule(t *testing.T) {
	after, _ := time.Parse(time.RFC3339, "2026-11-29T10:00:30Z") // a Sunday
	for _, c := range []struct {
		name   string
		params map[string]any
		cron   string
		next   string
	}{
		{"minutes default 15", map[string]any{"scheduleType": "minutes"}, "*/15 * * * *", "2026-11-29T10:15:00Z"},
		{"minutes", map[string]any{"scheduleType": "minutes", "minutesInterval": "5"}, "*/5 * * * *", "2026-11-29T10:05:00Z"},
		{"hourly", map[string]any{"scheduleType": "hourly", "hourlyMinute": 45}, "45 * * * *", "2026-11-29T10:45:00Z"},
		{"daily in Paris", map[string]any{"scheduleType": "daily", "dailyTime": "14:30", "timezone": "Europe/Paris"}, "30 14 * * *", "2026-11-29T13:30:00Z"},
		{"daily default 09:00", map[string]any{"scheduleType": "daily"}, "0 9 * * *", "2026-11-30T09:00:00Z"},
		{"default type is daily", map[string]any{}, "0 9 * * *", "2026-11-30T09:00:00Z"},
		{"weekly", map[string]any{"scheduleType": "weekly", "weeklyDay": "WED", "weeklyDayTime": "08:00", "timezone": "America/New_York"}, "0 8 * * 3", "2026-12-02T13:00:00Z"},
		{"weekly sunday stays sunday", map[string]any{"scheduleType": "weekly", "weeklyDay": "SUN", "weeklyDayTime": "11:00"}, "0 11 * * 0", "2026-11-29T11:00:00Z"},
		{"monthly", map[string]any{"scheduleType": "monthly", "monthlyDay": "1", "monthlyTime": "00:05"}, "5 0 1 * *", "2026-12-01T00:05:00Z"},
		{"custom cron", map[string]any{"scheduleType": "custom", "cronExpression": "0 12 * * 1-5", "timezone": "Asia/Tokyo"}, "0 12 * * 1-5", "2026-11-30T03:00:00Z"},
		{"cron with dow 7", map[string]any{"scheduleType": "custom", "cronExpression": "0 12 * * 7"}, "0 12 * * 7", "2026-11-29T12:00:00Z"},
	} {
		b := &Block{ID: "s", Type: TypeSchedule, SubBlocks: map[string]*SubBlock{}}
		for k, v := range c.params {
			b.SubBlocks[k] = &SubBlock{ID: k, Value: v}
		}
		spec, err := ParseSchedule(b)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if spec.Cron != c.cron || spec.Next(after).Format(time.RFC3339) != c.next {
			t.Errorf("%s: cron %q next %s, want %q %s", c.name, spec.Cron, spec.Next(after).Format(time.RFC3339), c.cron, c.next)
		}
	}
	for _, bad := range []map[string]any{
		{"scheduleType": "custom"},
		{"scheduleType": "custom", "cronExpression": "61 * * * *"},
		{"scheduleType": "daily", "timezone": "Mars/Olympus"},
		{"scheduleType": "fortnightly"},
	} {
		b := &Block{ID: "s", Type: TypeSchedule, SubBlocks: map[string]*SubBlock{}}
		for k, v := range bad {
			b.SubBlocks[k] = &SubBlock{ID: k, Value: v}
		}
		if _, err := ParseSchedule(b); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
