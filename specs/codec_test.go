package specs

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// filler sets every field it reaches to a value that is not the zero
// value, distinct from the others where the type allows.
type filler struct {
	t *testing.T
	n int
}

func (f *filler) fill(v reflect.Value, path string) {
	f.n++
	switch {
	case v.Type() == timeType:
		// An offset that is not a whole hour, in a zone other than UTC.
		v.Set(reflect.ValueOf(time.Date(2031, 3, 4, 5, 6, 7, 8, time.FixedZone("", 5*3600+1800)).Add(time.Duration(f.n) * time.Minute)))
		return
	case v.Type() == locType:
		loc, err := loadLocation("America/New_York")
		if err != nil {
			f.t.Skipf("no tz database: %v", err)
		}
		v.Set(reflect.ValueOf(loc))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(strings.Repeat("s", f.n%3+1) + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(-(f.n%100 + 1)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.n%200 + 1))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), path)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(s.Index(i), path+"[]")
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k, path+"{k}")
			k.SetString(k.String() + string(rune('a'+i)))
			f.fill(e, path+"{v}")
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	default:
		f.t.Fatalf("%s: the test cannot fill a %s: teach it, and the codec", path, v.Kind())
	}
	if v.IsZero() {
		f.t.Fatalf("%s: still zero after filling", path)
	}
}

func TestEveryFieldOfParsedSurvivesTheCacheCodec(t *testing.T) {
	var p Parsed
	(&filler{t: t}).fill(reflect.ValueOf(&p).Elem(), "Parsed")
	b, err := encodeParsed(&p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeParsed(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, p)
	}
	// Nil and empty are different values to DeepEqual, and to a reader
	// that checks for nil.
	p.Sequences[0].Labels = map[string]string{}
	p.Sequences[0].Items = nil
	p.Sequences[1].Items = []Item{}
	p.Sequences[1].Window = nil
	p.DNCLists[0].Entries[0].Date = nil
	b, err = encodeParsed(&p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = decodeParsed(b); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("nil and empty values: %v, or the round trip differs", err)
	}
}

func TestADamagedBlobIsAnErrorAndNeverAPanic(t *testing.T) {
	var p Parsed
	(&filler{t: t}).fill(reflect.ValueOf(&p).Elem(), "Parsed")
	b, err := encodeParsed(&p)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := decodeParsed(b[:n]); err == nil {
			t.Fatalf("a blob cut at %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := decodeParsed(append(b[:len(b):len(b)], 0)); err == nil {
		t.Error("a blob with a byte too many decoded")
	}
	// A flipped byte may still decode (the cache's checksum is what
	// catches it); it must not panic or allocate without bound.
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		decodeParsed(c)
	}
}

func TestTheCodecRefusesKindsItCannotCarry(t *testing.T) {
	type unexported struct{ a int }
	_ = unexported{}.a
	type selfRef struct {
		Name string
		Next *selfRef
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[struct{ F float64 }](),
		reflect.TypeFor[struct{ C chan int }](),
		reflect.TypeFor[struct{ I any }](),
		reflect.TypeFor[struct{ M map[int]string }](),
		reflect.TypeFor[struct{ A [2]int }](),
		reflect.TypeFor[unexported](),
		reflect.TypeFor[*time.Timer](),
	} {
		if _, err := codecFor(typ); err == nil {
			t.Errorf("%s: built a codec", typ)
		}
	}
	// A type that contains itself is carried, not recursed on for ever.
	c, err := codecFor(reflect.TypeFor[selfRef]())
	if err != nil {
		t.Fatal(err)
	}
	in := selfRef{"a", &selfRef{"b", nil}}
	w := &blobWriter{}
	if err := c.enc(w, reflect.ValueOf(in)); err != nil {
		t.Fatal(err)
	}
	var out selfRef
	if err := c.dec(&blobReader{b: w.b}, reflect.ValueOf(&out).Elem()); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("self-referencing type: %v, %+v", err, out)
	}
}

func TestAZoneThatItsNameDoesNotGiveBackIsNotCached(t *testing.T) {
	p := Parsed{Sequences: []*Sequence{{Name: "x", Location: time.FixedZone("Mars/Olympus", 3600)}}}
	if _, err := encodeParsed(&p); err == nil {
		t.Error("a fixed zone was encoded by a name that loads nothing (or another zone)")
	}
}
