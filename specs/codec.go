package specs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// The parse cache (cache.go) stores each file's Parsed in this binary
// form. Neither encoding/gob (no *time.Location) nor encoding/json (drops
// NamePos, and is slow) will do, and a hand-written encoder per type would
// silently drop a field added later. So the codec is derived by reflection
// from the types themselves, for exactly the kinds they use: strings,
// bools, integers, time.Time, *time.Location (by name, resolved again when
// read), string-keyed maps, slices, pointers and structs of exported
// fields. Any other kind is an error when the codec is built, so a type
// the codec cannot carry makes the cache refuse to store it, never store
// it partly.
//
// Nil and empty maps and slices are told apart, so that what is read back
// is deep-equal to what was written. Strings repeat a lot (every Position
// carries the file's path): each blob writes a string once and refers to
// it by number afterwards.

// codec encodes and decodes values of one type.
type codec struct {
	enc func(w *blobWriter, v reflect.Value) error
	dec func(r *blobReader, v reflect.Value) error
}

var (
	codecs      sync.Map // reflect.Type → *codec, or error
	timeType    = reflect.TypeFor[time.Time]()
	locType     = reflect.TypeFor[*time.Location]()
	errTruncate = errors.New("blob ends early")
)

// codecFor returns the codec of t, built once per type.
func codecFor(t reflect.Type) (*codec, error) {
	if c, ok := codecs.Load(t); ok {
		if err, bad := c.(error); bad {
			return nil, err
		}
		return c.(*codec), nil
	}
	c, err := build(t, map[reflect.Type]*codec{})
	if err != nil {
		codecs.Store(t, err)
		return nil, err
	}
	codecs.Store(t, c)
	return c, nil
}

// build makes t's codec. building holds the codecs under construction, so
// that a type that contains itself (through a pointer or slice) refers to
// its own codec instead of recursing for ever.
func build(t reflect.Type, building map[reflect.Type]*codec) (*codec, error) {
	if c := building[t]; c != nil {
		return c, nil
	}
	c := &codec{}
	building[t] = c
	switch {
	case t == timeType:
		c.enc, c.dec = encTime, decTime
		return c, nil
	case t == locType:
		c.enc, c.dec = encLocation, decLocation
		return c, nil
	}
	switch t.Kind() {
	case reflect.String:
		c.enc = func(w *blobWriter, v reflect.Value) error { w.str(v.String()); return nil }
		c.dec = func(r *blobReader, v reflect.Value) error {
			s, err := r.str()
			v.SetString(s)
			return err
		}
	case reflect.Bool:
		c.enc = func(w *blobWriter, v reflect.Value) error {
			w.b = append(w.b, boolByte(v.Bool()))
			return nil
		}
		c.dec = func(r *blobReader, v reflect.Value) error {
			x, err := r.uvarint()
			if err == nil && x > 1 {
				err = fmt.Errorf("bool %d", x)
			}
			v.SetBool(x == 1)
			return err
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		c.enc = func(w *blobWriter, v reflect.Value) error { w.b = binary.AppendVarint(w.b, v.Int()); return nil }
		c.dec = func(r *blobReader, v reflect.Value) error {
			x, n := binary.Varint(r.b)
			if n <= 0 {
				return errTruncate
			}
			r.b = r.b[n:]
			if v.OverflowInt(x) {
				return fmt.Errorf("%d overflows %s", x, v.Type())
			}
			v.SetInt(x)
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		c.enc = func(w *blobWriter, v reflect.Value) error { w.b = binary.AppendUvarint(w.b, v.Uint()); return nil }
		c.dec = func(r *blobReader, v reflect.Value) error {
			x, err := r.uvarint()
			if err != nil {
				return err
			}
			if v.OverflowUint(x) {
				return fmt.Errorf("%d overflows %s", x, v.Type())
			}
			v.SetUint(x)
			return nil
		}
	case reflect.Pointer:
		elem, err := build(t.Elem(), building)
		if err != nil {
			return nil, err
		}
		c.enc = func(w *blobWriter, v reflect.Value) error {
			if v.IsNil() {
				w.b = append(w.b, 0)
				return nil
			}
			w.b = append(w.b, 1)
			return elem.enc(w, v.Elem())
		}
		c.dec = func(r *blobReader, v reflect.Value) error {
			present, err := r.flag()
			if err != nil || !present {
				return err
			}
			p := reflect.New(t.Elem())
			v.Set(p)
			return elem.dec(r, p.Elem())
		}
	case reflect.Slice:
		elem, err := build(t.Elem(), building)
		if err != nil {
			return nil, err
		}
		c.enc = func(w *blobWriter, v reflect.Value) error {
			if !w.length(v) {
				return nil
			}
			for i := range v.Len() {
				if err := elem.enc(w, v.Index(i)); err != nil {
					return err
				}
			}
			return nil
		}
		c.dec = func(r *blobReader, v reflect.Value) error {
			n, isNil, err := r.length()
			if err != nil || isNil {
				return err
			}
			s := reflect.MakeSlice(t, n, n)
			for i := range n {
				if err := elem.dec(r, s.Index(i)); err != nil {
					return err
				}
			}
			v.Set(s)
			return nil
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings", t)
		}
		key, err := build(t.Key(), building)
		if err != nil {
			return nil, err
		}
		elem, err := build(t.Elem(), building)
		if err != nil {
			return nil, err
		}
		c.enc = func(w *blobWriter, v reflect.Value) error {
			if !w.length(v) {
				return nil
			}
			// In key order: the same value always gives the same bytes.
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				if err := key.enc(w, k); err != nil {
					return err
				}
				if err := elem.enc(w, v.MapIndex(k)); err != nil {
					return err
				}
			}
			return nil
		}
		c.dec = func(r *blobReader, v reflect.Value) error {
			n, isNil, err := r.length()
			if err != nil || isNil {
				return err
			}
			m := reflect.MakeMapWithSize(t, n)
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			for range n {
				if err := key.dec(r, k); err != nil {
					return err
				}
				e.SetZero()
				if err := elem.dec(r, e); err != nil {
					return err
				}
				m.SetMapIndex(k, e)
			}
			if m.Len() != n {
				return fmt.Errorf("%s: duplicate keys", t)
			}
			v.Set(m)
			return nil
		}
	case reflect.Struct:
		fields := make([]*codec, t.NumField())
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return nil, fmt.Errorf("%s.%s: unexported field", t, f.Name)
			}
			fc, err := build(f.Type, building)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t, f.Name, err)
			}
			fields[i] = fc
		}
		c.enc = func(w *blobWriter, v reflect.Value) error {
			for i, fc := range fields {
				if err := fc.enc(w, v.Field(i)); err != nil {
					return err
				}
			}
			return nil
		}
		c.dec = func(r *blobReader, v reflect.Value) error {
			for i, fc := range fields {
				if err := fc.dec(r, v.Field(i)); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("%s: kind %s is not supported", t, t.Kind())
	}
	return c, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// encTime keeps the instant and the offset, as MarshalBinary does. A
// time the decoder parsed with an offset lives in time.Local when the
// offset is Local's at that instant and in a fixed zone otherwise, which
// is the rule UnmarshalBinary follows too: what is read back is what a
// fresh parse would give in this process.
func encTime(w *blobWriter, v reflect.Value) error {
	b, err := v.Interface().(time.Time).MarshalBinary()
	if err != nil {
		return err
	}
	w.b = binary.AppendUvarint(w.b, uint64(len(b)))
	w.b = append(w.b, b...)
	return nil
}

func decTime(r *blobReader, v reflect.Value) error {
	b, err := r.bytes()
	if err != nil {
		return err
	}
	var t time.Time
	if err := t.UnmarshalBinary(b); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(t))
	return nil
}

// encLocation writes a zone's name, and only for a zone that the name
// gives back (every zone the decoder sets is one): a fixed zone or one
// loaded from elsewhere cannot be carried.
func encLocation(w *blobWriter, v reflect.Value) error {
	if v.IsNil() {
		w.b = append(w.b, 0)
		return nil
	}
	loc := v.Interface().(*time.Location)
	name := loc.String()
	if got, err := loadLocation(name); err != nil || got != loc {
		return fmt.Errorf("time zone %q is not one loaded by name", name)
	}
	w.b = append(w.b, 1)
	w.str(name)
	return nil
}

// decLocation loads the zone by name: the tz database is read now, not
// when the blob was written.
func decLocation(r *blobReader, v reflect.Value) error {
	present, err := r.flag()
	if err != nil || !present {
		return err
	}
	name, err := r.str()
	if err != nil {
		return err
	}
	loc, err := loadLocation(name)
	if err != nil {
		return err
	}
	v.Set(reflect.ValueOf(loc))
	return nil
}

// blobWriter is one blob being written.
type blobWriter struct {
	b       []byte
	strings map[string]uint64 // each string written so far → its number
}

// length writes a slice's or map's length, 0 for nil and n+1 otherwise
// (blobReader.length reads it), and says whether elements follow.
func (w *blobWriter) length(v reflect.Value) bool {
	if v.IsNil() {
		w.b = append(w.b, 0)
		return false
	}
	w.b = binary.AppendUvarint(w.b, uint64(v.Len())+1)
	return true
}

// str writes a string the first time as its length and bytes (the length
// shifted left, low bit 0), and then as its number (shifted, low bit 1).
func (w *blobWriter) str(s string) {
	if s == "" {
		w.b = append(w.b, 0)
		return
	}
	if n, ok := w.strings[s]; ok {
		w.b = binary.AppendUvarint(w.b, n<<1|1)
		return
	}
	if w.strings == nil {
		w.strings = map[string]uint64{}
	}
	w.strings[s] = uint64(len(w.strings))
	w.b = binary.AppendUvarint(w.b, uint64(len(s))<<1)
	w.b = append(w.b, s...)
}

// blobReader is one blob being read. Every length is checked against
// what is left, so a damaged blob is an error, never a huge allocation or
// a panic.
type blobReader struct {
	b       []byte
	strings []string
}

func (r *blobReader) uvarint() (uint64, error) {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errTruncate
	}
	r.b = r.b[n:]
	return x, nil
}

func (r *blobReader) flag() (bool, error) {
	x, err := r.uvarint()
	if err == nil && x > 1 {
		err = fmt.Errorf("flag %d", x)
	}
	return x == 1, err
}

// length reads a slice or map length; every element takes at least one
// byte, so a length beyond the bytes left is damage.
func (r *blobReader) length() (n int, isNil bool, err error) {
	x, err := r.uvarint()
	if err != nil {
		return 0, false, err
	}
	if x == 0 {
		return 0, true, nil
	}
	if x-1 > uint64(len(r.b)) {
		return 0, false, fmt.Errorf("length %d with %d bytes left", x-1, len(r.b))
	}
	return int(x - 1), false, nil
}

func (r *blobReader) bytes() ([]byte, error) {
	x, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if x > uint64(len(r.b)) {
		return nil, errTruncate
	}
	b := r.b[:x]
	r.b = r.b[x:]
	return b, nil
}

func (r *blobReader) str() (string, error) {
	x, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if x&1 == 1 {
		if x>>1 >= uint64(len(r.strings)) {
			return "", fmt.Errorf("string %d of %d", x>>1, len(r.strings))
		}
		return r.strings[x>>1], nil
	}
	if x == 0 {
		return "", nil
	}
	n := x >> 1
	if n > uint64(len(r.b)) {
		return "", errTruncate
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	r.strings = append(r.strings, s)
	return s, nil
}

// encodeParsed is the blob of one file's Parsed.
func encodeParsed(p *Parsed) ([]byte, error) {
	c, err := codecFor(reflect.TypeFor[Parsed]())
	if err != nil {
		return nil, err
	}
	w := &blobWriter{}
	if err := c.enc(w, reflect.ValueOf(p).Elem()); err != nil {
		return nil, err
	}
	return w.b, nil
}

// decodeParsed reads a blob back. A blob the codec did not write is an
// error; so is one with bytes left over.
func decodeParsed(b []byte) (p Parsed, err error) {
	c, err := codecFor(reflect.TypeFor[Parsed]())
	if err != nil {
		return Parsed{}, err
	}
	// The reader checks every length; this is for a mistake of ours, which
	// must cost a parse, not the daemon.
	defer func() {
		if r := recover(); r != nil {
			p, err = Parsed{}, fmt.Errorf("decode: %v", r)
		}
	}()
	r := &blobReader{b: b}
	if err := c.dec(r, reflect.ValueOf(&p).Elem()); err != nil {
		return Parsed{}, err
	}
	if len(r.b) != 0 {
		return Parsed{}, fmt.Errorf("%d bytes left over", len(r.b))
	}
	return p, nil
}
