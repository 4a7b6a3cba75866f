package ocs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the type of a TKVList value: the seed allows string and integer,
// and GSW_CM_AttrProperties nests a list.
type Kind uint8

const (
	KindString Kind = iota + 1
	KindInt
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindList:
		return "list"
	}
	return "invalid"
}

// Value is one TKVList value. The zero Value is invalid.
type Value struct {
	kind Kind
	i    int32
	s    string
	l    TKVList
}

// Str, Int and List make values.
func Str(s string) Value         { return Value{kind: KindString, s: s} }
func Int(i int32) Value          { return Value{kind: KindInt, i: i} }
func List(l TKVList) Value       { return Value{kind: KindList, l: l} }
func (v Value) Kind() Kind       { return v.kind }
func (v Value) AsInt() int32     { return v.i }
func (v Value) AsString() string { return v.s }
func (v Value) AsList() TKVList  { return v.l }

// Equal reports deep equality, order included.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindInt:
		return v.i == o.i
	case KindString:
		return v.s == o.s
	case KindList:
		return v.l.Equal(o.l)
	}
	return true
}

// Pair is one key/value of a TKVList.
type Pair struct {
	Key   string
	Value Value
}

// TKVList is the ordered key/value list that OCS attaches to CommDN
// UserEvents. Order is kept as sent; keys are normally unique, and Get
// returns the first match as OCS does.
type TKVList []Pair

// Errors returned by the typed getters; match with errors.Is.
var (
	ErrMissingKey = errors.New("missing key")
	ErrWrongType  = errors.New("wrong type")
)

// FieldError says which key was missing or of the wrong type.
type FieldError struct {
	Key  string
	Want Kind
	Got  Kind // zero when missing
	Err  error
}

func (e *FieldError) Error() string {
	if e.Err == ErrMissingKey {
		return fmt.Sprintf("key %q: missing", e.Key)
	}
	return fmt.Sprintf("key %q: want %s, got %s", e.Key, e.Want, e.Got)
}

func (e *FieldError) Unwrap() error { return e.Err }

// AddString, AddInt and AddList append a pair and return the list, so that
// literals read top to bottom like an OCS log.
func (l TKVList) AddString(k, v string) TKVList    { return append(l, Pair{k, Str(v)}) }
func (l TKVList) AddInt(k string, v int32) TKVList { return append(l, Pair{k, Int(v)}) }
func (l TKVList) AddList(k string, v TKVList) TKVList {
	return append(l, Pair{k, List(v)})
}

// Lookup returns the first value stored under k.
func (l TKVList) Lookup(k string) (Value, bool) {
	for _, p := range l {
		if p.Key == k {
			return p.Value, true
		}
	}
	return Value{}, false
}

// Has reports whether k is present.
func (l TKVList) Has(k string) bool { _, ok := l.Lookup(k); return ok }

func (l TKVList) get(k string, want Kind) (Value, error) {
	v, ok := l.Lookup(k)
	if !ok {
		return Value{}, &FieldError{Key: k, Want: want, Err: ErrMissingKey}
	}
	if v.kind != want {
		return Value{}, &FieldError{Key: k, Want: want, Got: v.kind, Err: ErrWrongType}
	}
	return v, nil
}

// GetInt returns the int under k, or a *FieldError.
func (l TKVList) GetInt(k string) (int32, error) {
	v, err := l.get(k, KindInt)
	return v.i, err
}

// GetString returns the string under k, or a *FieldError.
func (l TKVList) GetString(k string) (string, error) {
	v, err := l.get(k, KindString)
	return v.s, err
}

// GetList returns the nested list under k, or a *FieldError.
func (l TKVList) GetList(k string) (TKVList, error) {
	v, err := l.get(k, KindList)
	return v.l, err
}

// Set replaces the first value under k, or appends it.
func (l TKVList) Set(k string, v Value) TKVList {
	for i := range l {
		if l[i].Key == k {
			l[i].Value = v
			return l
		}
	}
	return append(l, Pair{k, v})
}

// Delete removes every pair under k.
func (l TKVList) Delete(k string) TKVList {
	out := l[:0]
	for _, p := range l {
		if p.Key != k {
			out = append(out, p)
		}
	}
	return out
}

// Equal reports deep equality, order included.
func (l TKVList) Equal(o TKVList) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		if l[i].Key != o[i].Key || !l[i].Value.Equal(o[i].Value) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy.
func (l TKVList) Clone() TKVList {
	if l == nil {
		return nil
	}
	out := make(TKVList, len(l))
	for i, p := range l {
		out[i] = p
		if p.Value.kind == KindList {
			out[i].Value.l = p.Value.l.Clone()
		}
	}
	return out
}

// String renders the list the way OCS and T-Server logs print user data:
// one pair per line, keys quoted, strings quoted, ints bare, nested lists
// indented by a tab, and known enumerations annotated:
//
//	'GSW_CM_MessageType' 7 [CM_ReqLoadCampaign]
//	'GSW_CM_AttrProperties' (list)
//		'campaign_schedule' (list)
//			'Description' 'night'
//
// Golden files depend on this form: keep it stable. A quote, a backslash,
// a control character or a byte that is not UTF-8 inside a key or string
// is escaped (\', \\, \n, \xNN), so that one pair is always one line and
// hostile user data cannot forge log lines.
func (l TKVList) String() string {
	var b strings.Builder
	l.write(&b, 0)
	return b.String()
}

func (l TKVList) write(b *strings.Builder, depth int) {
	for _, p := range l {
		for range depth {
			b.WriteByte('\t')
		}
		writeQuoted(b, p.Key)
		switch p.Value.kind {
		case KindInt:
			b.WriteString(" ")
			b.WriteString(strconv.FormatInt(int64(p.Value.i), 10))
			if ann := annotate(p.Key, p.Value.i); ann != "" {
				b.WriteString(" [")
				b.WriteString(ann)
				b.WriteString("]")
			}
			b.WriteString("\n")
		case KindString:
			b.WriteString(" ")
			writeQuoted(b, p.Value.s)
			b.WriteString("\n")
		case KindList:
			b.WriteString(" (list)\n")
			p.Value.l.write(b, depth+1)
		default:
			b.WriteString(" <invalid>\n")
		}
	}
}

// writeQuoted writes s between single quotes, escaping what would break
// the one-pair-per-line form.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch c {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
			i++
			continue
		case '\n':
			b.WriteString(`\n`)
			i++
			continue
		case '\t':
			b.WriteString(`\t`)
			i++
			continue
		case '\r':
			b.WriteString(`\r`)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size == 1) && unicode.IsPrint(r) {
				b.WriteString(s[i : i+size])
				i += size
				continue
			}
			if size > 1 {
				// A valid but invisible rune (U+2028, a bidi control):
				// show its code point.
				fmt.Fprintf(b, `\u%04x`, r)
				i += size
				continue
			}
		}
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
		i++
	}
	b.WriteByte('\'')
}

func annotate(key string, v int32) string {
	switch key {
	case KeyMessageType:
		return MessageType(v).String()
	case KeyDialMode, "dialMode":
		return DialMode(v).String()
	case KeyOptimizeBy, "optMethod":
		return OptimizeMethod(v).String()
	case KeyGroupCampStatus, "status":
		return GroupCampStatus(v).String()
	case KeyError:
		return ErrorCode(v).String()
	}
	return ""
}
