package node

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// pageHTML is the node's own page at "/": its view, read from its API by a
// few lines of script, with nothing loaded from anywhere else.
//
//go:embed page.html
var pageHTML string

// pageCSP allows exactly the page's inline style and script.
var pageCSP = "default-src 'self'; style-src " + inlineHash(pageHTML, "style") +
	"; script-src " + inlineHash(pageHTML, "script") + "; img-src data:; base-uri 'none'; form-action 'none'"

// inlineHash is the CSP source of the first <tag> element of html.
func inlineHash(html, tag string) string {
	_, rest, _ := strings.Cut(html, "<"+tag+">")
	body, _, _ := strings.Cut(rest, "</"+tag+">")
	sum := sha256.Sum256([]byte(body))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func (a *apiServer) page(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r) {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Write([]byte(pageHTML))
}
