// Command settings-site writes the Settings → API keys page as static files,
// for a static host in front of the API (S3 behind the CloudFront
// distribution that also routes /v1/* to API Gateway; see the README):
//
//	go run ./cmd/settings-site -out .local/settings-site
//	aws s3 sync .local/settings-site s3://<bucket>/ --delete
//
// The scope catalog the forms offer comes from config/authz.json, or from
// AUTHZ_CONFIG_FILE as the functions read it. The local-only sign-in is not
// part of the site.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowella/apikeys/shared/authz"
	"github.com/flowella/apikeys/shared/settingsui"
)

func main() {
	out := flag.String("out", filepath.Join(".local", "settings-site"), "directory to write the site into")
	flag.Parse()
	catalog, err := authz.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "settings-site:", err)
		os.Exit(1)
	}
	written, err := settingsui.Export(*out, catalog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "settings-site:", err)
		os.Exit(1)
	}
	for _, f := range written {
		fmt.Println(filepath.Join(*out, f))
	}
}
