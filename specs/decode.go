package specs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/schedule/cron"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// decoder walks yaml.Node trees so that every problem keeps its position.
type decoder struct {
	path     string
	problems []Problem
}

func (d *decoder) add(n *yaml.Node, sev Severity, field, format string, a ...any) {
	p := Problem{Path: d.path, Field: field, Severity: sev, Message: fmt.Sprintf(format, a...), Line: 1, Column: 1}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) errf(n *yaml.Node, field, format string, a ...any) {
	d.add(n, SeverityError, field, format, a...)
}

func (d *decoder) warnf(n *yaml.Node, field, format string, a ...any) {
	d.add(n, SeverityWarning, field, format, a...)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// fields decodes a mapping strictly: every key must be known and appear
// once. The handlers receive the value node and its field path.
func (d *decoder) fields(n *yaml.Node, field string, handlers map[string]func(v *yaml.Node, f string)) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errf(n, field, "want a mapping, got %s", kindName(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := join(field, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.errf(k, f, "duplicate key (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		h, ok := handlers[k.Value]
		if !ok {
			d.errf(k, f, "unknown field %q%s", k.Value, suggest(k.Value, handlers))
			continue
		}
		h(v, f)
	}
	return seen
}

func suggest(k string, handlers map[string]func(*yaml.Node, string)) string {
	best, bestD := "", 3
	for name := range handlers {
		if dd := levenshtein(strings.ToLower(k), strings.ToLower(name)); dd < bestD {
			best, bestD = name, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "nothing"
}

func (d *decoder) str(n *yaml.Node, f string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!timestamp") {
		d.errf(n, f, "want a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, f string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errf(n, f, "want true or false, got %s", kindName(n))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errf(n, f, "want true or false: %v", err)
		return false, false
	}
	return v, true
}

func (d *decoder) int32v(n *yaml.Node, f string, lo, hi int64) (int32, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errf(n, f, "want an integer, got %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil {
		d.errf(n, f, "want an integer: %v", err)
		return 0, false
	}
	if v < lo || v > hi {
		d.errf(n, f, "%d is out of range %d-%d", v, lo, hi)
		return 0, false
	}
	return int32(v), true
}

func (d *decoder) duration(n *yaml.Node, f string) (time.Duration, bool) {
	s, ok := d.str(n, f)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errf(n, f, "want a duration such as 30m or 1h30m, got %q", s)
		return 0, false
	}
	return v, true
}

func (d *decoder) timeOfDay(n *yaml.Node, f string) (TimeOfDay, bool) {
	s, ok := d.str(n, f)
	if !ok {
		return TimeOfDay{}, false
	}
	t, ok := parseTimeOfDay(s)
	if !ok {
		d.errf(n, f, "want a 24-hour time HH:MM, got %q", s)
	}
	return t, ok
}

func parseTimeOfDay(s string) (TimeOfDay, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return TimeOfDay{}, false
	}
	return TimeOfDay{Hour: t.Hour(), Minute: t.Minute()}, true
}

func (d *decoder) date(n *yaml.Node, f string) (Date, bool) {
	s, ok := d.str(n, f)
	if !ok {
		return Date{}, false
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		d.errf(n, f, "want a date YYYY-MM-DD, got %q", s)
		return Date{}, false
	}
	return Date{t.Year(), t.Month(), t.Day()}, true
}

// ParseFile decodes every document of one file. It never panics; problems
// carry path:line:col. Documents with errors produce no value.
func ParseFile(path string, data []byte) (seqs []*Sequence, dncs []*DoNotCallList, problems []Problem) {
	p := Parse(path, data)
	return p.Sequences, p.DNCLists, p.Problems
}

// Parsed is every document of one file, by kind.
type Parsed struct {
	Sequences []*Sequence
	DNCLists  []*DoNotCallList
	Halts     []*Halt
	Problems  []Problem
}

// Parse decodes every document of one file. It never panics; problems
// carry path:line:col. Documents with errors produce no value.
func Parse(path string, data []byte) (out Parsed) {
	d := &decoder{path: path}
	defer func() {
		if r := recover(); r != nil {
			d.errf(nil, "", "internal error while decoding (please report): %v", r)
			out = Parsed{Problems: d.problems}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		d.errf(nil, "", "empty file: want at least one CampaignSequence, DoNotCallList or Halt document")
		return Parsed{Problems: d.problems}
	}
	var seqs []*Sequence
	var dncs []*DoNotCallList
	var halts []*Halt
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 1
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			d.problems = append(d.problems, Problem{Path: path, Line: line, Column: 1, Severity: SeverityError,
				Message: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		docs++
		root := doc.Content[0]
		before := len(d.problems)
		kind := d.header(root)
		switch kind {
		case KindCampaignSequence:
			s := d.sequence(root)
			if !hasErrorsSince(d.problems, before) && s != nil {
				s.Hash = hashOf(s)
				s.Generation = 1
				seqs = append(seqs, s)
			}
		case KindDoNotCallList:
			l := d.dncList(root)
			if !hasErrorsSince(d.problems, before) && l != nil {
				l.Hash = hashOf(l)
				l.Generation = 1
				dncs = append(dncs, l)
			}
		case KindHalt:
			h := d.halt(root)
			if !hasErrorsSince(d.problems, before) && h != nil {
				halts = append(halts, h)
			}
		}
	}
	if docs == 0 && len(d.problems) == 0 {
		d.errf(nil, "", "no documents: want at least one CampaignSequence, DoNotCallList or Halt")
	}
	return Parsed{Sequences: seqs, DNCLists: dncs, Halts: halts, Problems: d.problems}
}

// halt decodes a kind: Halt document: metadata.name and spec.reason.
func (d *decoder) halt(root *yaml.Node) *Halt {
	h := &Halt{Pos: Position{d.path, root.Line, root.Column}}
	var specNode *yaml.Node
	d.fields(root, "", map[string]func(*yaml.Node, string){
		"apiVersion": func(*yaml.Node, string) {},
		"kind":       func(*yaml.Node, string) {},
		"metadata":   func(v *yaml.Node, f string) { h.Name, _, h.NamePos = d.metadata(v, f) },
		"spec":       func(v *yaml.Node, f string) { specNode = v },
	})
	if specNode == nil {
		d.errf(root, "spec", "missing spec (a Halt needs spec.reason)")
		return nil
	}
	d.fields(specNode, "spec", map[string]func(*yaml.Node, string){
		"reason": func(v *yaml.Node, f string) { h.Reason, _ = d.str(v, f) },
	})
	if strings.TrimSpace(h.Reason) == "" {
		d.errf(specNode, "spec.reason", "a Halt needs a reason: it is shown in status, history and /readyz")
		return nil
	}
	return h
}

// unknownZone starts the problem of a time zone the host does not know
// (the parse cache does not keep such a file: see hostDependent).
const unknownZone = "unknown time zone"

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// locations holds every time zone loaded so far, by name: each
// time.LoadLocation reads and parses its tz file again, which for 100,000
// sequences in a handful of zones was a tenth of the parse. One pointer
// per name also lets the parse cache name a zone and get the same one
// back (codec.go). A zone that fails to load is not remembered: tzdata
// installed later is found on the next parse.
var locations sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	got, _ := locations.LoadOrStore(name, l)
	return got.(*time.Location), nil
}

func hasErrorsSince(ps []Problem, from int) bool {
	for _, p := range ps[from:] {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// HasErrors reports whether any problem is an error.
func HasErrors(ps []Problem) bool { return hasErrorsSince(ps, 0) }

// header checks apiVersion and kind and returns the kind ("" if bad).
func (d *decoder) header(root *yaml.Node) string {
	if root.Kind != yaml.MappingNode {
		d.errf(root, "", "a document must be a mapping with apiVersion, kind, metadata and spec; got %s", kindName(root))
		return ""
	}
	var api, kind string
	var apiNode, kindNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "apiVersion":
			apiNode = root.Content[i+1]
			api = apiNode.Value
		case "kind":
			kindNode = root.Content[i+1]
			kind = kindNode.Value
		}
	}
	if apiNode == nil {
		d.errf(root, "apiVersion", "missing apiVersion (want %s)", APIVersion)
		return ""
	}
	if api != APIVersion {
		d.errf(apiNode, "apiVersion", "unsupported apiVersion %q (want %s)", api, APIVersion)
		return ""
	}
	if kindNode == nil {
		d.errf(root, "kind", "missing kind (want %s, %s or %s)", KindCampaignSequence, KindDoNotCallList, KindHalt)
		return ""
	}
	if kind != KindCampaignSequence && kind != KindDoNotCallList && kind != KindHalt {
		d.errf(kindNode, "kind", "unknown kind %q (want %s, %s or %s)", kind, KindCampaignSequence, KindDoNotCallList, KindHalt)
		return ""
	}
	return kind
}

// metadata decodes metadata.name and labels; namePos is where the name's
// value is written (the document's mapping when it is missing).
func (d *decoder) metadata(n *yaml.Node, f string) (name string, labels map[string]string, namePos Position) {
	namePos = Position{d.path, n.Line, n.Column}
	seen := d.fields(n, f, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, f string) {
			namePos = Position{d.path, v.Line, v.Column}
			if s, ok := d.str(v, f); ok {
				if !nameRE.MatchString(s) {
					d.errf(v, f, "%q is not a valid name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", s)
				}
				name = s
			}
		},
		"labels": func(v *yaml.Node, f string) {
			if v.Kind != yaml.MappingNode {
				d.errf(v, f, "want a mapping of strings, got %s", kindName(v))
				return
			}
			labels = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				if _, dup := labels[k.Value]; dup {
					d.errf(k, join(f, k.Value), "duplicate label")
				}
				if s, ok := d.str(val, join(f, k.Value)); ok {
					labels[k.Value] = s
				}
			}
		},
	})
	if seen["name"] == nil && n.Kind == yaml.MappingNode {
		d.errf(n, join(f, "name"), "missing name")
	}
	return
}

func (d *decoder) sequence(root *yaml.Node) *Sequence {
	s := &Sequence{Pos: Position{d.path, root.Line, root.Column}, TimeZone: "UTC", Location: time.UTC,
		Engine: EngineSequencer, OnDelete: OnDeleteStop, OCS: OCSRef{Link: "default"}}
	var specNode *yaml.Node
	seen := d.fields(root, "", map[string]func(*yaml.Node, string){
		"apiVersion": func(*yaml.Node, string) {},
		"kind":       func(*yaml.Node, string) {},
		"metadata":   func(v *yaml.Node, f string) { s.Name, s.Labels, s.NamePos = d.metadata(v, f) },
		"spec":       func(v *yaml.Node, f string) { specNode = v },
	})
	if seen["metadata"] == nil {
		d.errf(root, "metadata", "missing metadata")
	}
	if specNode == nil {
		d.errf(root, "spec", "missing spec")
		return nil
	}
	var autoSet bool
	var itemsNode *yaml.Node
	var autoByItem []*bool
	d.fields(specNode, "spec", map[string]func(*yaml.Node, string){
		"description": func(v *yaml.Node, f string) { s.Description, _ = d.str(v, f) },
		"timeZone": func(v *yaml.Node, f string) {
			tz, ok := d.str(v, f)
			if !ok {
				return
			}
			if strings.HasPrefix(tz, "TZ=") || strings.HasPrefix(tz, "CRON_TZ=") {
				d.errf(v, f, "write the IANA name alone, such as America/New_York")
				return
			}
			loc, err := loadLocation(tz)
			if err != nil || tz == "" || tz == "Local" {
				d.errf(v, f, unknownZone+" %q: want an IANA name such as America/New_York or Europe/London", tz)
				return
			}
			s.TimeZone, s.Location = tz, loc
		},
		"start":          func(v *yaml.Node, f string) { d.start(v, f, s) },
		"window":         func(v *yaml.Node, f string) { s.Window = d.window(v, f) },
		"engine":         func(v *yaml.Node, f string) { d.engine(v, f, s) },
		"ocs":            func(v *yaml.Node, f string) { d.ocsRef(v, f, s) },
		"suspend":        func(v *yaml.Node, f string) { s.Suspend, _ = d.boolean(v, f) },
		"autoCompletion": func(v *yaml.Node, f string) { s.AutoCompletion, autoSet = d.boolean(v, f) },
		"onDelete": func(v *yaml.Node, f string) {
			if x, ok := d.str(v, f); ok {
				switch OnDelete(x) {
				case OnDeleteStop, OnDeleteOrphan:
					s.OnDelete = OnDelete(x)
				default:
					d.errf(v, f, "want stop or orphan, got %q", x)
				}
			}
		},
		"items": func(v *yaml.Node, f string) { itemsNode = v },
	})
	_ = autoSet
	if itemsNode == nil {
		d.errf(specNode, "spec.items", "missing items: a sequence needs at least one item")
		return s
	}
	if itemsNode.Kind != yaml.SequenceNode || len(itemsNode.Content) == 0 {
		d.errf(itemsNode, "spec.items", "want a non-empty list of items, got %s", kindName(itemsNode))
		return s
	}
	names := map[string]int{}
	for i, n := range itemsNode.Content {
		f := fmt.Sprintf("spec.items[%d]", i)
		it, auto := d.item(n, f, s)
		if it == nil {
			continue
		}
		if first, dup := names[it.Name]; dup && it.Name != "" {
			d.errf(n, f+".name", "duplicate item name %q (first at line %d)", it.Name, first)
		}
		names[it.Name] = n.Line
		autoByItem = append(autoByItem, auto)
		s.Items = append(s.Items, *it)
	}
	for i := range s.Items {
		if autoByItem[i] == nil {
			s.Items[i].AutoCompletion = s.AutoCompletion
		}
		d.checkStoppable(itemsNode.Content[i], fmt.Sprintf("spec.items[%d]", i), s, &s.Items[i])
	}
	if s.Engine == EngineOCS {
		for i := range s.Items {
			if s.Items[i].GroupDBID != s.Items[0].GroupDBID {
				d.errf(itemsNode.Content[i], fmt.Sprintf("spec.items[%d].groupDBID", i),
					"engine ocs sends one campaign_schedule for one group: every item must use groupDBID %d", s.Items[0].GroupDBID)
			}
		}
	}
	return s
}

func (d *decoder) checkStoppable(n *yaml.Node, f string, s *Sequence, it *Item) {
	if !it.StopAt.Any() && !it.AutoCompletion && s.Window == nil {
		d.warnf(n, f, "item %q can never end by itself: no stopAt, autoCompletion is false and there is no window; it dials until the list is depleted and the group stays loaded", it.Name)
	}
}

func (d *decoder) engine(v *yaml.Node, f string, s *Sequence) {
	if x, ok := d.str(v, f); ok {
		switch Engine(x) {
		case EngineSequencer, EngineOCS:
			s.Engine = Engine(x)
		default:
			d.errf(v, f, "want sequencer or ocs, got %q", x)
		}
	}
}

func (d *decoder) ocsRef(v *yaml.Node, f string, s *Sequence) {
	d.fields(v, f, map[string]func(*yaml.Node, string){
		"link": func(v *yaml.Node, f string) {
			if x, ok := d.str(v, f); ok {
				s.OCS.Link = x
			}
		},
		"targetAppDBID": func(v *yaml.Node, f string) { s.OCS.TargetAppDBID, _ = d.int32v(v, f, 0, 1<<31-1) },
	})
}

func (d *decoder) start(n *yaml.Node, f string, s *Sequence) {
	var schedNode, atNode *yaml.Node
	d.fields(n, f, map[string]func(*yaml.Node, string){
		"schedule": func(v *yaml.Node, f string) {
			schedNode = v
			expr, ok := d.str(v, f)
			if !ok {
				return
			}
			if _, err := cron.Parse(expr); err != nil {
				switch {
				case errors.Is(err, cron.ErrTimeZonePrefix):
					d.errf(v, f, "%q: a TZ= or CRON_TZ= prefix is not allowed; set spec.timeZone instead", expr)
				default:
					d.errf(v, f, "%v", err)
				}
				return
			}
			s.Start.Schedule = expr
		},
		"at": func(v *yaml.Node, f string) {
			atNode = v
			x, ok := d.str(v, f)
			if !ok {
				return
			}
			t, err := time.Parse(time.RFC3339, x)
			if err != nil {
				d.errf(v, f, "want an RFC 3339 time such as 2026-12-01T18:00:00-05:00, got %q", x)
				return
			}
			s.Start.At = t
		},
		"startingDeadline": func(v *yaml.Node, f string) {
			if dl, ok := d.duration(v, f); ok {
				if dl < 0 {
					d.errf(v, f, "must not be negative")
					return
				}
				s.Start.StartingDeadline = dl
			}
		},
	})
	if schedNode != nil && atNode != nil {
		d.errf(atNode, join(f, "at"), "set either schedule or at, not both")
	}
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday, "mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday, "wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday, "fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

func (d *decoder) window(n *yaml.Node, f string) *Window {
	w := &Window{}
	var fromNode, toNode *yaml.Node
	fromOK, toOK := false, false
	seen := d.fields(n, f, map[string]func(*yaml.Node, string){
		"days": func(v *yaml.Node, f string) {
			if v.Kind != yaml.SequenceNode {
				d.errf(v, f, "want a list of days such as [Mon, Tue], got %s", kindName(v))
				return
			}
			have := map[time.Weekday]bool{}
			for i, dn := range v.Content {
				x, ok := d.str(dn, fmt.Sprintf("%s[%d]", f, i))
				if !ok {
					continue
				}
				wd, ok := dayNames[strings.ToLower(x)]
				if !ok {
					d.errf(dn, fmt.Sprintf("%s[%d]", f, i), "unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)", x)
					continue
				}
				if have[wd] {
					d.errf(dn, fmt.Sprintf("%s[%d]", f, i), "day %s listed twice", x)
				}
				have[wd] = true
				w.Days = append(w.Days, wd)
			}
		},
		"from": func(v *yaml.Node, f string) { fromNode = v; w.From, fromOK = d.timeOfDay(v, f) },
		"to":   func(v *yaml.Node, f string) { toNode = v; w.To, toOK = d.timeOfDay(v, f) },
		"exceptDates": func(v *yaml.Node, f string) {
			if v.Kind != yaml.SequenceNode {
				d.errf(v, f, "want a list of dates YYYY-MM-DD, got %s", kindName(v))
				return
			}
			for i, dn := range v.Content {
				if dt, ok := d.date(dn, fmt.Sprintf("%s[%d]", f, i)); ok {
					w.ExceptDates = append(w.ExceptDates, dt)
				}
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if seen["from"] == nil {
			d.errf(n, join(f, "from"), "missing from (HH:MM)")
		}
		if seen["to"] == nil {
			d.errf(n, join(f, "to"), "missing to (HH:MM)")
		}
	}
	if fromOK && toOK && w.From.Minutes() >= w.To.Minutes() {
		d.errf(toNode, join(f, "to"), "window to %s is not after from %s (windows cannot cross midnight)", w.To, w.From)
	}
	_ = fromNode
	return w
}

func (d *decoder) item(n *yaml.Node, f string, s *Sequence) (*Item, *bool) {
	it := &Item{Pos: Position{d.path, n.Line, n.Column}}
	var auto *bool
	var stopNode *yaml.Node
	var sleepNode, optNode *yaml.Node
	seen := d.fields(n, f, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, f string) {
			if x, ok := d.str(v, f); ok {
				if !nameRE.MatchString(x) {
					d.errf(v, f, "%q is not a valid item name: use lowercase letters, digits and '-'", x)
				}
				it.Name = x
			}
		},
		"campaignDBID": func(v *yaml.Node, f string) { it.CampaignDBID, _ = d.int32v(v, f, 1, 1<<31-1) },
		"groupDBID":    func(v *yaml.Node, f string) { it.GroupDBID, _ = d.int32v(v, f, 1, 1<<31-1) },
		"dialMode": func(v *yaml.Node, f string) {
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				d.errf(v, f, "want a dial mode name or number, got %s", kindName(v))
				return
			}
			m, err := ocs.ParseDialMode(v.Value)
			if err != nil {
				d.errf(v, f, "%v", err)
				return
			}
			it.DialMode = m
		},
		"optimize": func(v *yaml.Node, f string) {
			optNode = v
			var goalNode *yaml.Node
			var goalSet bool
			seenOpt := d.fields(v, f, map[string]func(*yaml.Node, string){
				"by": func(v *yaml.Node, f string) {
					if x, ok := d.str(v, f); ok {
						m, err := ocs.ParseOptimizeMethod(x)
						if err != nil {
							d.errf(v, f, "%v", err)
							return
						}
						it.Optimize.By = m
					}
				},
				"goal": func(v *yaml.Node, f string) {
					goalNode = v
					it.Optimize.Goal, goalSet = d.int32v(v, f, -1<<31, 1<<31-1)
				},
			})
			if v.Kind == yaml.MappingNode && (seenOpt["by"] == nil || seenOpt["goal"] == nil) {
				d.errf(v, f, "optimize needs both by and goal")
			}
			if goalSet && it.Optimize.By != ocs.OptimizeNone {
				if lo, hi := it.Optimize.By.GoalRange(); it.Optimize.Goal < int32(lo) || it.Optimize.Goal > int32(hi) {
					unit := "%"
					if it.Optimize.By == ocs.OptimizeWaitTime {
						unit = " s"
					}
					d.errf(goalNode, join(f, "goal"), "goal %d is out of range for %s (%d-%d%s)", it.Optimize.Goal, it.Optimize.By.Short(), lo, hi, unit)
				}
			}
		},
		"sleepBeforeNextStart": func(v *yaml.Node, f string) {
			sleepNode = v
			if x, ok := d.duration(v, f); ok {
				if x < 0 {
					d.errf(v, f, "must not be negative")
					return
				}
				it.SleepBeforeNextStart = x
			}
		},
		"autoCompletion": func(v *yaml.Node, f string) {
			if b, ok := d.boolean(v, f); ok {
				auto = &b
				it.AutoCompletion = b
			}
		},
		"stopAt": func(v *yaml.Node, f string) { stopNode = v; d.stopAt(v, f, it) },
	})
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for _, req := range []string{"name", "campaignDBID", "groupDBID", "dialMode"} {
		if seen[req] == nil {
			d.errf(n, join(f, req), "missing %s", req)
		}
	}
	if s.Engine == EngineOCS && it.StopAt.Time.Kind == StopAbsolute && it.StopAt.Time.At.After(maxScheduleTime) {
		// campaign_schedule carries times as 32-bit Unix seconds: a later
		// one would wrap to 1901 on the wire, silently.
		at := stopNode
		if tn := mapValue(stopNode, "time"); tn != nil {
			at = tn
		}
		d.errf(at, join(f, "stopAt.time"), "engine ocs sends stop times as 32-bit Unix seconds, which end at %s; %s is past that (use engine sequencer, or an earlier stop)",
			maxScheduleTime.Format(time.RFC3339), it.StopAt.Time.At.UTC().Format(time.RFC3339))
	}
	if s.Engine == EngineOCS && sleepNode != nil && it.SleepBeforeNextStart%time.Minute != 0 {
		d.errf(sleepNode, join(f, "sleepBeforeNextStart"), "engine ocs counts sleepBeforeNextStart in whole minutes; %s is not", it.SleepBeforeNextStart)
	}
	if optNode == nil && it.DialMode.IsPredictive() {
		// OCS then uses the optimization configured on the campaign group.
		it.Optimize = Optimize{}
	}
	return it, auto
}

func (d *decoder) stopAt(n *yaml.Node, f string, it *Item) {
	d.fields(n, f, map[string]func(*yaml.Node, string){
		"time": func(v *yaml.Node, f string) {
			x, ok := d.str(v, f)
			if !ok {
				return
			}
			switch {
			case strings.HasPrefix(x, "+"):
				dur, err := time.ParseDuration(x[1:])
				if err != nil || dur <= 0 {
					d.errf(v, f, "want +<duration> such as +90m, got %q", x)
					return
				}
				it.StopAt.Time = StopTime{Kind: StopAfter, After: dur}
			case len(x) == 5 && strings.Contains(x, ":"):
				t, ok := parseTimeOfDay(x)
				if !ok {
					d.errf(v, f, "want a 24-hour time HH:MM, got %q", x)
					return
				}
				it.StopAt.Time = StopTime{Kind: StopTimeOfDay, TimeOfDay: t}
			default:
				t, err := time.Parse(time.RFC3339, x)
				if err != nil {
					d.errf(v, f, "want HH:MM (local time of day), +<duration> after the item starts, or an RFC 3339 time; got %q", x)
					return
				}
				it.StopAt.Time = StopTime{Kind: StopAbsolute, At: t}
			}
		},
		"contacts": func(v *yaml.Node, f string) { it.StopAt.Contacts, _ = d.int32v(v, f, 1, 1<<31-1) },
		"dials":    func(v *yaml.Node, f string) { it.StopAt.Dials, _ = d.int32v(v, f, 1, 1<<31-1) },
	})
}

var phoneRE = regexp.MustCompile(`^\+?[0-9]{7,15}$`)

// ValidPhone is the rule DoNotCallList entries follow: digits only,
// optionally with a leading +, 7 to 15 digits.
func ValidPhone(p string) bool { return phoneRE.MatchString(p) }

func (d *decoder) dncList(root *yaml.Node) *DoNotCallList {
	l := &DoNotCallList{Pos: Position{d.path, root.Line, root.Column}}
	var specNode *yaml.Node
	d.fields(root, "", map[string]func(*yaml.Node, string){
		"apiVersion": func(*yaml.Node, string) {},
		"kind":       func(*yaml.Node, string) {},
		"metadata":   func(v *yaml.Node, f string) { l.Name, _, l.NamePos = d.metadata(v, f) },
		"spec":       func(v *yaml.Node, f string) { specNode = v },
	})
	if specNode == nil {
		d.errf(root, "spec", "missing spec")
		return nil
	}
	d.fields(specNode, "spec", map[string]func(*yaml.Node, string){
		"targetAppDBID": func(v *yaml.Node, f string) { l.TargetAppDBID, _ = d.int32v(v, f, 0, 1<<31-1) },
		"entries": func(v *yaml.Node, f string) {
			if v.Kind != yaml.SequenceNode {
				d.errf(v, f, "want a list of entries, got %s", kindName(v))
				return
			}
			seen := map[string]int{}
			for i, en := range v.Content {
				ef := fmt.Sprintf("%s[%d]", f, i)
				e := DNCEntry{Pos: Position{d.path, en.Line, en.Column}}
				phoneGiven := false
				d.fields(en, ef, map[string]func(*yaml.Node, string){
					"phone": func(v *yaml.Node, f string) {
						phoneGiven = true
						if x, ok := d.str(v, f); ok {
							if !phoneRE.MatchString(x) {
								d.errf(v, f, "%q is not a phone number: write digits only, optionally with a leading +, 7 to 15 digits (no spaces or dashes)", x)
								return
							}
							e.Phone = x
						}
					},
					"customerID": func(v *yaml.Node, f string) { e.CustomerID, _ = d.str(v, f) },
					"reason":     func(v *yaml.Node, f string) { e.Reason, _ = d.str(v, f) },
					"date": func(v *yaml.Node, f string) {
						if dt, ok := d.date(v, f); ok {
							e.Date = &dt
						}
					},
				})
				if en.Kind == yaml.MappingNode && !phoneGiven && e.CustomerID == "" {
					d.errf(en, ef, "an entry needs phone or customerID (or both)")
					continue
				}
				if e.Phone == "" && e.CustomerID == "" {
					continue
				}
				if first, dup := seen[e.Key()]; dup {
					d.errf(en, ef, "duplicate entry (first at line %d)", first)
					continue
				}
				seen[e.Key()] = en.Line
				l.Entries = append(l.Entries, e)
			}
		},
	})
	return l
}

// hashOf hashes the meaning of a decoded value: positions, generation and
// the hash itself are left out, so comments and formatting do not count.
func hashOf(v any) string {
	var b []byte
	switch x := v.(type) {
	case *Sequence:
		c := *x
		c.Pos, c.Hash, c.Generation, c.Location = Position{}, "", 0, nil
		c.Items = append([]Item(nil), x.Items...)
		for i := range c.Items {
			c.Items[i].Pos = Position{}
		}
		b, _ = json.Marshal(c)
	case *DoNotCallList:
		c := *x
		c.Pos, c.Hash, c.Generation = Position{}, "", 0
		c.Entries = append([]DNCEntry(nil), x.Entries...)
		for i := range c.Entries {
			c.Entries[i].Pos = Position{}
		}
		b, _ = json.Marshal(c)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// maxScheduleTime is the last instant a campaign_schedule can carry: OCS
// reads its times as 32-bit signed Unix seconds.
var maxScheduleTime = time.Unix(1<<31-1, 0).UTC()

// mapValue returns the value node of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
