package apikey_test

import (
	"hash/crc32"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowella/apikeys/shared/apikey"
)

// rule is what a scanner rule file says of Flowella keys: the regular
// expression (its first group is the key) and the keywords that gate it.
type rule struct {
	regex    *regexp.Regexp
	keywords []string
}

// gitleaksRule reads docs/scanners/gitleaks.toml: one [[rules]] entry whose
// regex is a TOML literal string and whose secretGroup is 1.
func gitleaksRule(t *testing.T) rule {
	t.Helper()
	raw, err := os.ReadFile("../../docs/scanners/gitleaks.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	rx := regexp.MustCompile(`(?m)^regex = '''(.+)'''$`).FindStringSubmatch(text)
	kw := regexp.MustCompile(`(?m)^keywords = \[(.*)\]$`).FindStringSubmatch(text)
	if rx == nil || kw == nil || !strings.Contains(text, "\nsecretGroup = 1\n") || !strings.Contains(text, "[[rules]]") {
		t.Fatalf("gitleaks.toml has no rule with regex, keywords and secretGroup = 1:\n%s", text)
	}
	var keywords []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(kw[1], -1) {
		keywords = append(keywords, q[1])
	}
	return rule{regex: regexp.MustCompile(rx[1]), keywords: keywords}
}

// trufflehogRule reads docs/scanners/trufflehog.yaml: one custom detector
// with one named regex.
func trufflehogRule(t *testing.T) rule {
	t.Helper()
	raw, err := os.ReadFile("../../docs/scanners/trufflehog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Detectors []struct {
			Name     string            `yaml:"name"`
			Keywords []string          `yaml:"keywords"`
			Regex    map[string]string `yaml:"regex"`
		} `yaml:"detectors"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Detectors) != 1 || len(doc.Detectors[0].Regex) != 1 || doc.Detectors[0].Name == "" {
		t.Fatalf("trufflehog.yaml: want one named detector with one regex: %+v", doc)
	}
	d := doc.Detectors[0]
	return rule{regex: regexp.MustCompile(d.Regex["key"]), keywords: d.Keywords}
}

// valid is the checksum check a scanner adds to a match.
func valid(s string) bool {
	env := apikey.EnvLive
	if strings.HasPrefix(s, "flwl_test_") {
		env = apikey.EnvTest
	}
	_, err := apikey.Parse(s, env)
	return err == nil
}

func TestScannerRulesFindKeysAndTheChecksumKeepsOnlyKeys(t *testing.T) {
	live, _ := apikey.Generate(apikey.EnvLive)
	test, _ := apikey.Generate(apikey.EnvTest)
	example := "flwl_live_7Hq2VxK9mLp4Rt8Wc1Zn6Bd3Fg5Js0Ya1d4bOG" // docs/secret-scanning.md
	last := live.Secret()[47]
	swap := "A"
	if last == 'A' {
		swap = "B"
	}
	typo := live.Secret()[:47] + swap // one character off: the checksum fails
	sample := strings.Join([]string{
		"# .env, committed by mistake",
		"FLOWELLA_API_KEY=" + live.Secret(),
		`{"apiKey": "` + test.Secret() + `", "region": "eu"}`,
		`curl -H "Authorization: Bearer ` + example + `" https://api.flowella.example/v1/whoami`,
		"export OLD_KEY=" + typo + "   # a look-alike",
		// Not the pattern at all:
		"flwl_live_tooShort123",
		live.Secret() + "x",                           // 49 characters
		"FLWL_LIVE_" + live.Secret()[10:],             // the prefix in capitals
		"flwl_prod_" + live.Secret()[10:],             // no such environment
		"x" + live.Secret()[:10] + live.Secret()[10:], // inside a longer word
		"ghp_16C7e42F292c6912E7710c838347Ae178B4a",
	}, "\n")
	wantMatches := []string{live.Secret(), test.Secret(), example, typo}
	wantKeys := []string{live.Secret(), test.Secret(), example}

	for name, r := range map[string]rule{"gitleaks": gitleaksRule(t), "trufflehog": trufflehogRule(t)} {
		t.Run(name, func(t *testing.T) {
			var matches, keys []string
			for _, m := range r.regex.FindAllStringSubmatch(sample, -1) {
				if len(m) < 2 {
					t.Fatalf("the regex has no group for the key: %s", r.regex)
				}
				matches = append(matches, m[1])
				if valid(m[1]) {
					keys = append(keys, m[1])
				}
			}
			if !slices.Equal(matches, wantMatches) {
				t.Errorf("matches:\n%q\nwant\n%q", matches, wantMatches)
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("after the checksum:\n%q\nwant\n%q", keys, wantKeys)
			}
			// The keywords (a case-insensitive prefilter in both tools) let
			// every key through.
			for _, k := range wantKeys {
				if !slices.ContainsFunc(r.keywords, func(kw string) bool { return strings.Contains(strings.ToLower(k), strings.ToLower(kw)) }) {
					t.Errorf("keywords %q would skip %s", r.keywords, k[:16])
				}
			}
		})
	}
}

// The worked example of docs/secret-scanning.md is a valid key, and its
// stated CRC32 is the one computed.
func TestDocumentedChecksumExample(t *testing.T) {
	raw, err := os.ReadFile("../../docs/secret-scanning.md")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^key\s+(flwl_\S+)$`).FindStringSubmatch(string(raw))
	sum := regexp.MustCompile(`(?m)^CRC32\s+(\d+) \(0x([0-9A-F]{8})\)$`).FindStringSubmatch(string(raw))
	if key == nil || sum == nil {
		t.Fatal("docs/secret-scanning.md has no worked example (key …, CRC32 …)")
	}
	if _, err := apikey.Parse(key[1], apikey.EnvLive); err != nil {
		t.Fatalf("the example %s does not parse: %v", key[1], err)
	}
	n := crc32.ChecksumIEEE([]byte(key[1][10:42]))
	dec, _ := strconv.ParseUint(sum[1], 10, 32)
	hex, _ := strconv.ParseUint(sum[2], 16, 32)
	if uint64(n) != dec || uint64(n) != hex {
		t.Fatalf("the example's CRC32 is %d (0x%08X), the document says %s (0x%s)", n, n, sum[1], sum[2])
	}
}
