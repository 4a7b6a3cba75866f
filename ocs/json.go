package ocs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The bridge wire format (DESIGN §5, version 1) is one JSON object per
// frame:
//
//	{"v":1,"data":[["GSW_CM_MessageType",7],["GSW_CM_AttrCampaignID",101],
//	               ["GSW_CM_AttrProperties",[["campaign_schedule",[...]]]]]}
//
// data is the CommDN user data as an array of [key, value] pairs in order.
// A JSON integer is an int (int32 range), a JSON string a string, and a JSON
// array a nested TKVList of the same shape. Nothing else is a value: no
// floats, booleans, nulls or objects. Keys are strings and may repeat (order
// is kept). Unknown envelope members are ignored so later versions can add
// some; "v" other than 1 is rejected. See JSON-FORMAT.md.

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
func EncodeJSON(l TKVList) ([]byte, error) {
	b := make([]byte, 0, 64+len(l)*40)
	b = append(b, `{"v":1,"data":`...)
	b, err := appendList(b, l, 1)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends the bare data array of l (no envelope) to b.
func AppendJSON(b []byte, l TKVList) ([]byte, error) { return appendList(b, l, 1) }

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
	d := decoder{data: data}
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
	d := decoder{data: data}
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
}

func (d *decoder) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", d.pos, fmt.Sprintf(format, a...))
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
			n, err := d.int()
			if err != nil {
				return nil, fmt.Errorf(`"v": %w`, err)
			}
			if n != JSONVersion {
				return nil, fmt.Errorf(`"v": unsupported version %d (this build reads %d)`, n, JSONVersion)
			}
			haveV = true
		case "data":
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
		return nil, d.errf("%v (more than %d levels)", ErrTooDeep, MaxDepth)
	}
	if err := d.expect('['); err != nil {
		return nil, err
	}
	l := TKVList{}
	if d.peek() == ']' {
		d.pos++
		return l, nil
	}
	for {
		if d.pairs++; d.pairs > MaxPairs {
			return nil, d.errf("%v: more than %d pairs", ErrTooLarge, MaxPairs)
		}
		if err := d.expect('['); err != nil {
			return nil, fmt.Errorf("pair %d: %w", len(l)+1, err)
		}
		d.ws()
		k, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("pair %d key: %w", len(l)+1, err)
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
			n, err := d.int()
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			v = Int(n)
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
		l = append(l, Pair{k, v})
		switch c := d.peek(); c {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return l, nil
		default:
			return nil, d.errf("want ',' or ']' after pair %d", len(l))
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
	n, err := strconv.ParseInt(string(d.data[start:d.pos]), 10, 32)
	if err != nil {
		return 0, d.errf("integer %s outside the int32 range", d.data[start:d.pos])
	}
	return int32(n), nil
}

func (d *decoder) str() (string, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", d.errf("want a string")
	}
	start := d.pos
	d.pos++
	escaped := false
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !escaped {
				raw := d.data[start+1 : d.pos-1]
				if !utf8.Valid(raw) {
					return "", d.errf("string is not valid UTF-8")
				}
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.pos], &s); err != nil {
				return "", d.errf("bad string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.pos += 2
		case c < 0x20:
			return "", d.errf("control character in string")
		default:
			d.pos++
		}
	}
	return "", d.errf("unterminated string")
}

// skip passes over any JSON value of an unknown envelope member.
func (d *decoder) skip(depth int) error {
	if depth > MaxDepth {
		return d.errf("%v", ErrTooDeep)
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
