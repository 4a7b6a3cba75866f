package ocshttp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sequencer-dev/sequencer/ocs"
)

// The table of what the project uses beyond the seed must name every key
// this package reads or writes, every action, and mark the invented keys.
func TestEveryWireKeyAndActionIsInTheDocsTableOfWhatGoesBeyondTheSeed(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol-keys.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "| ") {
			rows = append(rows, l)
		}
	}
	row := func(v string) string {
		for _, r := range rows {
			if strings.Contains(r, "`"+v+"`") || strings.Contains(r, "`"+v+" ") {
				return r
			}
		}
		return ""
	}
	f, err := parser.ParseFile(token.NewFileSet(), "wire.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fromOCS := map[string]string{"StatDials": ocs.StatDials, "StatContacts": ocs.StatContacts, "StatRecordsLeft": ocs.StatRecordsLeft}
	keys := 0
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Key") {
			return true
		}
		var v string
		switch e := vs.Values[0].(type) {
		case *ast.BasicLit:
			v, _ = strconv.Unquote(e.Value)
		case *ast.SelectorExpr:
			v = fromOCS[e.Sel.Name]
		}
		if v == "" {
			t.Errorf("%s: cannot tell its value", vs.Names[0].Name)
			return true
		}
		keys++
		if row(v) == "" {
			t.Errorf("docs/protocol-keys.md has no row for %s (%s)", v, vs.Names[0].Name)
		}
		return true
	})
	if keys < 20 {
		t.Errorf("found only %d keys in wire.go", keys)
	}
	for _, a := range actions {
		if row(a) == "" {
			t.Errorf("docs/protocol-keys.md has no row for the action %s", a)
		}
	}
	for _, k := range Invented {
		var marked bool
		for _, r := range rows {
			marked = marked || strings.Contains(r, "`"+k+"`") && strings.Contains(r, "HTTP") && strings.Contains(r, "invented here")
		}
		if !marked {
			t.Errorf("docs/protocol-keys.md does not mark %s in HTTP bodies as invented here", k)
		}
	}
}
