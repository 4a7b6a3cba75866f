// Package ui is the dashboard the daemon serves at /: static HTML, CSS and
// JavaScript embedded in the binary, so that it needs no build step, no
// CDN and no internet. Every figure it shows comes from the API under
// /api/v1, with the token rules of the API; these files hold no data.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Handler serves the page at / and its assets under /ui/.
func Handler() http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	assets := http.StripPrefix("/ui/", http.FileServerFS(static))
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only our own files may run or load: a message or a name shown
		// on the page can never become script, and no other site may
		// frame the page to trick a click on its buttons.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// A new binary brings new files; the browser must ask again.
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			// The page's files are its own business, not a listing.
			http.NotFound(w, r)
			return
		}
		assets.ServeHTTP(w, r)
	})
}
