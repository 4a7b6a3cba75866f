package store

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Progress and intents are written for every journaled request, tens of
// thousands of them in the minute many sequences start together, and
// encoding/json's reflection was half of what a commit cost. These
// encoders write exactly the bytes json.Marshal writes for the same
// envelope (a test fills every field by reflection and compares, so a
// field added to a type without its line here fails it); anything they
// do not handle byte for byte (an odd string, a time json refuses) is
// left to encoding/json.

// jsonWriter appends JSON; ok turns false at the first value it will not
// write itself, and the caller then asks encoding/json.
type jsonWriter struct {
	b  []byte
	ok bool
}

// key writes a member name (ours, all plain ASCII), after a comma unless
// it is the object's first.
func (w *jsonWriter) key(first bool, name string) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

// str writes s quoted as json does: quote, backslash and control
// characters escaped, and the HTML-unsafe <, > and & as \u00XX. A string
// beyond ASCII (where json rewrites invalid UTF-8 and U+2028/9) is left
// to json itself.
func (w *jsonWriter) str(s string) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			raw, err := json.Marshal(s)
			if err != nil {
				w.ok = false
				return
			}
			w.b = append(w.b, raw...)
			return
		}
	}
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\b':
			w.b = append(w.b, '\\', 'b')
		case '\f':
			w.b = append(w.b, '\\', 'f')
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			w.b = append(w.b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) int(n int64) { w.b = strconv.AppendInt(w.b, n, 10) }

func (w *jsonWriter) bool(v bool) { w.b = strconv.AppendBool(w.b, v) }

// time writes t as time.Time.MarshalJSON does; a time it refuses (a year
// beyond 9999) is left to json, which reports the error.
func (w *jsonWriter) time(t time.Time) {
	w.b = append(w.b, '"')
	b, err := t.AppendText(w.b)
	if err != nil {
		w.ok = false
		return
	}
	w.b = append(b, '"')
}

// array writes xs as a JSON array, each element by elem.
func array[T any](w *jsonWriter, xs []T, elem func(T)) {
	w.b = append(w.b, '[')
	for i, x := range xs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		elem(x)
	}
	w.b = append(w.b, ']')
}

func (w *jsonWriter) counters(c Counters) {
	w.key(true, "dials")
	w.int(c.Dials)
	w.key(false, "contacts")
	w.int(c.Contacts)
	w.b = append(w.b, '}')
}

// object opens an object value; the fields' writer closes it.
func (w *jsonWriter) object() { w.b = append(w.b, '{') }

func (w *jsonWriter) itemResults(rs []ItemResult) {
	if rs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	array(w, rs, func(r ItemResult) {
		w.object()
		w.key(true, "name")
		w.str(r.Name)
		w.key(false, "started")
		w.time(r.Started)
		w.key(false, "ended")
		w.time(r.Ended)
		w.key(false, "reason")
		w.str(r.Reason)
		w.key(false, "dials")
		w.int(r.Dials)
		w.key(false, "contacts")
		w.int(r.Contacts)
		w.b = append(w.b, '}')
	})
}

func (w *jsonWriter) run(r *Run) {
	w.object()
	w.key(true, "id")
	w.str(r.ID)
	w.key(false, "scheduled")
	w.time(r.Scheduled)
	w.key(false, "started")
	w.time(r.Started)
	w.key(false, "item")
	w.int(int64(r.Item))
	w.key(false, "itemName")
	w.str(r.ItemName)
	w.key(false, "itemState")
	w.str(r.ItemState)
	w.optTime("itemStarted", r.ItemStarted)
	w.optTime("sleepUntil", r.SleepUntil)
	w.optTime("pausedAt", r.PausedAt)
	w.key(false, "countersAtStart")
	w.object()
	w.counters(r.CountersAtStart)
	w.key(false, "carried")
	w.object()
	w.counters(r.Carried)
	if len(r.Items) > 0 {
		w.key(false, "items")
		w.itemResults(r.Items)
	}
	w.key(false, "segment")
	w.int(int64(r.Segment))
	w.optInt("campaignDBID", int64(r.CampaignDBID))
	w.optInt("groupDBID", int64(r.GroupDBID))
	w.optInt("dialMode", int64(r.DialMode))
	w.optInt("optimizeBy", int64(r.OptimizeBy))
	w.optInt("optimizeGoal", int64(r.OptimizeGoal))
	w.optStr("stopGoal", r.StopGoal)
	w.optStr("endReason", r.EndReason)
	w.optStr("pauseReason", r.PauseReason)
	w.optTime("reloadedAt", r.ReloadedAt)
	w.optTime("outsideSince", r.OutsideSince)
	w.b = append(w.b, '}')
}

// optTime, optInt and optStr write a member that is not the object's
// first, unless omitzero or omitempty leaves it out.
func (w *jsonWriter) optTime(name string, t time.Time) {
	if !t.IsZero() {
		w.key(false, name)
		w.time(t)
	}
}

func (w *jsonWriter) optInt(name string, n int64) {
	if n != 0 {
		w.key(false, name)
		w.int(n)
	}
}

func (w *jsonWriter) optStr(name, s string) {
	if s != "" {
		w.key(false, name)
		w.str(s)
	}
}

func (w *jsonWriter) progress(p *Progress) {
	w.object()
	w.key(true, "sequence")
	w.str(p.Sequence)
	w.key(false, "specHash")
	w.str(p.SpecHash)
	w.key(false, "generation")
	w.int(p.Generation)
	if p.Run != nil {
		w.key(false, "run")
		w.run(p.Run)
	}
	w.optTime("lastScheduled", p.LastScheduled)
	if len(p.FiredStarts) > 0 {
		w.key(false, "firedStarts")
		array(w, p.FiredStarts, w.time)
	}
	if len(p.SkippedStarts) > 0 {
		w.key(false, "skippedStarts")
		array(w, p.SkippedStarts, func(s SkippedStart) {
			w.object()
			w.key(true, "scheduled")
			w.time(s.Scheduled)
			w.key(false, "reason")
			w.str(s.Reason)
			w.key(false, "count")
			w.int(int64(s.Count))
			w.b = append(w.b, '}')
		})
	}
	if len(p.Completed) > 0 {
		w.key(false, "completed")
		array(w, p.Completed, func(rs RunSummary) {
			w.object()
			w.key(true, "id")
			w.str(rs.ID)
			w.key(false, "scheduled")
			w.time(rs.Scheduled)
			w.key(false, "started")
			w.time(rs.Started)
			w.key(false, "ended")
			w.time(rs.Ended)
			w.key(false, "items")
			w.itemResults(rs.Items)
			w.b = append(w.b, '}')
		})
	}
	if o := p.Override; o != nil {
		w.key(false, "override")
		w.object()
		w.key(true, "suspended")
		w.bool(o.Suspended)
		w.key(false, "who")
		w.str(o.Who)
		w.key(false, "why")
		w.str(o.Why)
		w.key(false, "at")
		w.time(o.At)
		w.optTime("until", o.Until)
		w.b = append(w.b, '}')
	}
	if len(p.Engine) > 0 {
		w.key(false, "engine")
		keys := make([]string, 0, len(p.Engine))
		for k := range p.Engine {
			keys = append(keys, k)
		}
		slices.Sort(keys) // json sorts map keys
		w.object()
		for i, k := range keys {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.str(k)
			w.b = append(w.b, ':')
			w.str(p.Engine[k])
		}
		w.b = append(w.b, '}')
	}
	w.key(false, "updatedAt")
	w.time(p.UpdatedAt)
	w.b = append(w.b, '}')
}

func (w *jsonWriter) intent(in *Intent) {
	w.object()
	w.key(true, "id")
	w.str(in.ID)
	w.key(false, "sequence")
	w.str(in.Sequence)
	w.key(false, "run")
	w.str(in.Run)
	w.key(false, "item")
	w.int(int64(in.Item))
	w.key(false, "action")
	w.str(in.Action)
	w.optStr("request", in.Request)
	w.key(false, "created")
	w.time(in.Created)
	w.key(false, "state")
	w.str(string(in.State))
	w.optStr("outcome", in.Outcome)
	w.optTime("settled", in.Settled)
	w.b = append(w.b, '}')
}

// enveloped writes {"v":1,"data":…} with body writing the data, in a
// buffer sized by hint; ok false means: ask encoding/json.
func enveloped(hint int, body func(w *jsonWriter)) ([]byte, bool) {
	w := jsonWriter{b: make([]byte, 0, hint), ok: true}
	w.b = append(w.b, `{"v":1,"data":`...)
	body(&w)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

func encodeProgress(p *Progress) ([]byte, error) {
	if b, ok := enveloped(1024, func(w *jsonWriter) { w.progress(p) }); ok {
		return b, nil
	}
	return json.Marshal(envelope[Progress]{V: 1, Data: *p})
}

func encodeIntent(in *Intent) ([]byte, error) {
	if b, ok := enveloped(256+len(in.Request), func(w *jsonWriter) { w.intent(in) }); ok {
		return b, nil
	}
	return json.Marshal(envelope[Intent]{V: 1, Data: *in})
}
