package ocs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The bridge wire format (ocs/JSON-FORMAT.md), version 1, is one JSON object per
// frame:
//
//	{"v":1,"data":[["GSW_CM_MessageType",7],["GSW_CM_AttrCampaignID",101],
//	               ["GSW_CM_AttrProperties",[["campaign_schedule",[...]]]]]}
//
// data is the CommDN user data as an array of [key, value] pairs in order.
// A JSON integer is an int (int32 range, no fraction or exponent, no leading
// zero), a JSON string a string (UTF-8; escapes as in RFC 8259), and a JSON
// array a nested TKVList of the same shape. Nothing else is a value: no
// floats, booleans, nulls or objects. Keys are strings and may repeat;
// order is kept. "v" and "data" are required and appear once; other
// envelope members are skipped so that a later minor revision can add some;
// a "v" other than 1 is rejected. Limits: MaxFrameSize bytes, MaxDepth
// levels of lists (the user data itself is level 1), MaxPairs pairs in all.
// Errors wrap ErrBadJSON (and ErrTooLarge or ErrTooDeep for the limits) and
// say where: the key path and the byte offset. JSON-FORMAT.md is the same
// description for sidecar authors.

// Limits of the decoder, so that no input can make it allocate without
// bound or recurse deeply.
const (
	JSONVersion  = 1
	MaxFrameSize = 1 << 20 // bytes of one JSON document
	MaxDepth     = 8       // nesting of TKVLists (user data is depth 1)
	MaxPairs     = 65536   // pairs in one document, all levels together
)

// ErrBadJSON is wrapped by every decode error.
var ErrBadJSON = errors.New("bad TKVList JSON")

// EncodeJSON renders l in the wire format.
func EncodeJSON(l TKVList) ([]byte, error) { return AppendEncoded(nil, l) }

// AppendEncoded appends EncodeJSON's rendering of l to b, growing b at
// most once in the common case.
func AppendEncoded(b []byte, l TKVList) ([]byte, error) {
	b = slices.Grow(b, len(`{"v":1,"data":}`)+sizeList(l, 1))
	b = append(b, `{"v":1,"data":`...)
	b, err := appendList(b, l, 1)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends the bare data array of l (no envelope) to b.
func AppendJSON(b []byte, l TKVList) ([]byte, error) { return appendList(b, l, 1) }

// sizeList is the encoded size of l when no string needs escaping, so that
// EncodeJSON allocates once in the common case.
func sizeList(l TKVList, depth int) int {
	n := 2 + len(l) // brackets and commas
	if depth > MaxDepth {
		return n
	}
	for _, p := range l {
		n += 5 + len(p.Key) // [ "" , ]
		switch p.Value.kind {
		case KindInt:
			n += 11
		case KindString:
			n += 2 + len(p.Value.s)
		case KindList:
			n += sizeList(p.Value.l, depth+1)
		}
	}
	return n
}

func appendList(b []byte, l TKVList, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("encode: %w (more than %d levels)", ErrTooDeep, MaxDepth)
	}
	b = append(b, '[')
	for i, p := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, p.Key)
		b = append(b, ',')
		switch p.Value.kind {
		case KindInt:
			b = strconv.AppendInt(b, int64(p.Value.i), 10)
		case KindString:
			b = appendString(b, p.Value.s)
		case KindList:
			var err error
			if b, err = appendList(b, p.Value.l, depth+1); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("encode: key %q: invalid value", p.Key)
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeJSON reads a wire-format document.
func DecodeJSON(data []byte) (TKVList, error) {
	if len(data) > MaxFrameSize {
		return nil, fmt.Errorf("%w: %w: %d bytes (max %d)", ErrBadJSON, ErrTooLarge, len(data), MaxFrameSize)
	}
	d := newDecoder(data)
	defer d.free()
	l, err := d.envelope()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return l, nil
}

// DecodeJSONData reads a bare data array (no envelope).
func DecodeJSONData(data []byte) (TKVList, error) {
	if len(data) > MaxFrameSize {
		return nil, fmt.Errorf("%w: %w: %d bytes (max %d)", ErrBadJSON, ErrTooLarge, len(data), MaxFrameSize)
	}
	d := newDecoder(data)
	defer d.free()
	d.ws()
	l, err := d.list(1)
	if err == nil {
		d.ws()
		if d.pos != len(d.data) {
			err = d.errf("trailing data")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return l, nil
}

type decoder struct {
	data  []byte
	pos   int
	pairs int
	stack []Pair
}

func (d *decoder) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", d.pos, fmt.Sprintf(format, a...))
}

// stacks recycles decoders' pair stacks: decoding a frame then allocates
// only the lists it returns and their strings.
var stacks = sync.Pool{New: func() any { s := make([]Pair, 0, 64); return &s }}

func newDecoder(data []byte) *decoder {
	return &decoder{data: data, stack: *stacks.Get().(*[]Pair)}
}

func (d *decoder) free() {
	if cap(d.stack) > 4096 {
		return // a huge frame's stack is not worth keeping
	}
	s := d.stack[:0]
	clear(s[:cap(s)]) // keep no strings or lists of the result alive
	stacks.Put(&s)
}

// errw is errf for an error that callers match with errors.Is.
func (d *decoder) errw(sentinel error, format string, a ...any) error {
	return fmt.Errorf("at byte %d: %w: %s", d.pos, sentinel, fmt.Sprintf(format, a...))
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) expect(c byte) error {
	d.ws()
	if d.pos >= len(d.data) {
		return d.errf("unexpected end, want %q", c)
	}
	if d.data[d.pos] != c {
		return d.errf("want %q, got %q", c, d.data[d.pos])
	}
	d.pos++
	return nil
}

func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *decoder) envelope() (TKVList, error) {
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	var l TKVList
	haveV, haveData := false, false
	if d.peek() == '}' {
		d.pos++
		return nil, d.errf(`missing "v" and "data"`)
	}
	for {
		d.ws()
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if err := d.expect(':'); err != nil {
			return nil, err
		}
		switch k {
		case "v":
			if haveV {
				return nil, d.errf(`duplicate "v"`)
			}
			n, err := d.int()
			if err != nil {
				return nil, fmt.Errorf(`"v": %w`, err)
			}
			if n != JSONVersion {
				return nil, fmt.Errorf(`"v": unsupported version %d (this build reads %d)`, n, JSONVersion)
			}
			haveV = true
		case "data":
			if haveData {
				return nil, d.errf(`duplicate "data"`)
			}
			if l, err = d.list(1); err != nil {
				return nil, fmt.Errorf(`"data": %w`, err)
			}
			haveData = true
		default:
			if err := d.skip(0); err != nil {
				return nil, fmt.Errorf("%q: %w", k, err)
			}
		}
		switch c := d.peek(); c {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
		default:
			return nil, d.errf("want ',' or '}' in envelope")
		}
		break
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.errf("trailing data after the document")
	}
	if !haveV {
		return nil, errors.New(`missing "v"`)
	}
	if !haveData {
		return nil, errors.New(`missing "data"`)
	}
	return l, nil
}

func (d *decoder) list(depth int) (TKVList, error) {
	if depth > MaxDepth {
		return nil, d.errw(ErrTooDeep, "more than %d levels of lists", MaxDepth)
	}
	if err := d.expect('['); err != nil {
		return nil, err
	}
	if d.peek() == ']' {
		d.pos++
		return TKVList{}, nil
	}
	// Pairs collect on a stack shared by every level and are copied out
	// once the list is closed, so that each list costs one allocation of
	// its exact size.
	mark := len(d.stack)
	defer func() { d.stack = d.stack[:mark] }()
	n := 0
	for {
		n++
		if d.pairs++; d.pairs > MaxPairs {
			return nil, d.errw(ErrTooLarge, "more than %d pairs", MaxPairs)
		}
		if err := d.expect('['); err != nil {
			return nil, fmt.Errorf("pair %d: %w", n, err)
		}
		d.ws()
		k, err := d.key()
		if err != nil {
			return nil, fmt.Errorf("pair %d key: %w", n, err)
		}
		if err := d.expect(','); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		var v Value
		switch c := d.peek(); {
		case c == '"':
			s, err := d.str()
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			v = Str(s)
		case c == '-' || (c >= '0' && c <= '9'):
			iv, err := d.int()
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			v = Int(iv)
		case c == '[':
			sub, err := d.list(depth + 1)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			v = List(sub)
		default:
			return nil, fmt.Errorf("key %q: %w", k, d.errf("a value must be an integer, a string or a list"))
		}
		if err := d.expect(']'); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		if len(d.stack) == cap(d.stack) {
			// Double: append's gentler growth for large slices would
			// allocate several times the final size on a huge frame.
			d.stack = slices.Grow(d.stack, len(d.stack))
		}
		d.stack = append(d.stack, Pair{k, v})
		switch c := d.peek(); c {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return append(TKVList(nil), d.stack[mark:]...), nil
		default:
			return nil, d.errf("want ',' or ']' after pair %d", n)
		}
	}
}

func (d *decoder) int() (int32, error) {
	d.ws()
	start := d.pos
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	digits := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	if d.pos == digits {
		return 0, d.errf("want an integer")
	}
	if d.pos < len(d.data) {
		if c := d.data[d.pos]; c == '.' || c == 'e' || c == 'E' {
			return 0, d.errf("not an integer (fractions and exponents are not TKVList values)")
		}
	}
	if d.data[digits] == '0' && d.pos-digits > 1 {
		return 0, d.errf("leading zero")
	}
	var n int64
	if d.pos-digits <= 10 { // more digits overflow whatever they are
		for _, c := range d.data[digits:d.pos] {
			n = n*10 + int64(c-'0')
		}
		if d.data[start] == '-' {
			n = -n
		}
	}
	if d.pos-digits > 10 || n < math.MinInt32 || n > math.MaxInt32 {
		tok := d.data[start:d.pos]
		if len(tok) > 24 {
			tok = append(tok[:20:20], "..."...)
		}
		d.pos = start
		return 0, d.errf("integer %s outside the int32 range", tok)
	}
	return int32(n), nil
}

// str reads a JSON string. The common case (no escapes) is one pass and,
// for keys the protocol defines, no allocation.
func (d *decoder) str() (string, error) {
	return d.strInterned(false)
}

func (d *decoder) key() (string, error) {
	return d.strInterned(true)
}

func (d *decoder) strInterned(intern bool) (string, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", d.errf("want a string")
	}
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			raw := d.data[start:i]
			if !ascii && !utf8.Valid(raw) {
				return "", d.errf("string is not valid UTF-8")
			}
			d.pos = i + 1
			if intern {
				if s, ok := knownKeys[string(raw)]; ok {
					return s, nil
				}
			}
			return string(raw), nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			d.pos = i
			return "", d.errf("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.pos = len(d.data)
	return "", d.errf("unterminated string")
}

// unescape is the slow path of str for a string that has escapes; start is
// the first byte after the opening quote.
func (d *decoder) unescape(start int) (string, error) {
	buf := make([]byte, 0, 64)
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				d.pos = start
				return "", d.errf("string is not valid UTF-8")
			}
			d.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			d.pos = i
			return "", d.errf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			break
		}
		switch e := d.data[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.data[i+2:])
			if !ok {
				d.pos = i
				return "", d.errf(`bad \u escape`)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair travels as two escapes; a lone half becomes
				// U+FFFD, as encoding/json does.
				if i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					if r2, ok := hex4(d.data[i+2:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			d.pos = i
			return "", d.errf("bad escape \\%c", e)
		}
		i += 2
	}
	d.pos = len(d.data)
	return "", d.errf("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip passes over any JSON value of an unknown envelope member.
func (d *decoder) skip(depth int) error {
	if depth > MaxDepth {
		return d.errw(ErrTooDeep, "more than %d levels in an envelope member", MaxDepth)
	}
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.pos++
		if d.peek() == closer {
			d.pos++
			return nil
		}
		for {
			if c == '{' {
				d.ws()
				if _, err := d.str(); err != nil {
					return err
				}
				if err := d.expect(':'); err != nil {
					return err
				}
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case closer:
				d.pos++
				return nil
			default:
				return d.errf("bad separator")
			}
		}
	default:
		start := d.pos
		for d.pos < len(d.data) && !isDelim(d.data[d.pos]) {
			d.pos++
		}
		tok := d.data[start:d.pos]
		if !json.Valid(tok) {
			d.pos = start
			return d.errf("bad value %q", tok)
		}
		return nil
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// knownKeys maps the keys the protocol defines to their constants, so that
// decoding them allocates nothing.
var knownKeys = func() map[string]string {
	keys := []string{
		KeyMessageType, KeyReferenceID, KeyOriginAppID, KeyTargetAppID,
		KeyCampaignID, KeyGroupID, KeyDialMode, KeyOptimizeBy, KeyOptimizeGoal,
		KeyGroupCampStatus, KeyError, KeyErrorMessage, KeyProperties, KeyAutoCompletion,
		PropCampaignSchedule, PropCancelRecord, PropDoNotCall, PropDialingPriority,
		PropStatistics, StatDials, StatContacts, StatRecordsLeft,
		KeyPhone, KeyCustomerID, KeyCampaignName, KeyChainAttr, KeyMessage,
		SchedDescription, SchedStartTime, SchedNItems,
		ItemStopAtTime, ItemStopAtContacts, ItemStopAtDials, ItemSleepBeforeNextStart,
		ItemCampaignDBID, ItemDialMode, ItemOptMethod, ItemOptMethodValue, ItemStatus,
	}
	m := make(map[string]string, len(keys)+64)
	for _, k := range keys {
		m[k] = k
	}
	for i := 1; i <= 64; i++ {
		k := SchedItemPrefix + strconv.Itoa(i)
		m[k] = k
	}
	return m
}()

// MarshalJSON renders the bare data array (no envelope), so that a TKVList
// inside other JSON documents reads the same as on the wire.
func (l TKVList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return AppendJSON(nil, l)
}

// UnmarshalJSON reads a bare data array with the limits of DecodeJSON.
func (l *TKVList) UnmarshalJSON(b []byte) error {
	v, err := DecodeJSONData(b)
	if err != nil {
		return err
	}
	*l = v
	return nil
}
