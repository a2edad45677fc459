package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestDashboardInBrowser drives the real binary's dashboard with Debian's chromium,
// as a new admin would on first start: sign in with the printed password, create a
// workspace key and see it once, revoke it, create an organization key with a
// single-workflow grant and find it on that workspace's settings page, import, deploy
// and run a workflow from its form, open its log and trace, run one that pauses at a
// human approval and answer it on the page its uiUrl leads to. Every page is saved as a
// PNG in $STEELENGINE_SCREENSHOTS (or the test's temporary directory).
//
// Without chromium the test skips, unless CI is set: then it fails (.ci/run installs
// chromium with apt-get).
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI is set: install it (apt-get install -y chromium) to run the dashboard's browser test")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipping the dashboard's browser test")
	}
	shots := os.Getenv("STEELENGINE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// A fresh server, as on first start.
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	var stdout syncBuffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	base := waitListen(t, stderr)
	password, dashboardURL := firstStart(t, &stdout)
	if dashboardURL != base+"/" {
		t.Errorf("serve printed dashboard URL %q, want %q", dashboardURL, base+"/")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// Start the browser on bctx itself: a step's shorter context must not own it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			shot(t, bctx, shots, "failed-"+regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	html := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Signed out, / leads to the login page.
	step("open /", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#email")))
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); loc != base+"/login" {
		t.Errorf("signed-out / went to %s", loc)
	}
	shot(t, bctx, shots, "01-login")
	step("sign in",
		chromedp.SendKeys(css("#email"), "admin@localhost"),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css("form[action='/login'] button")),
		chromedp.WaitVisible(css(".cards a.card")))
	shot(t, bctx, shots, "02-home")

	// Workspace → Settings → API keys: create a workspace key, see it once.
	step("open workspace", chromedp.Click(css(".cards a.card")), chromedp.WaitVisible(css("nav.side a[href$='/settings/api-keys']")))
	wsURL, _ := chromedp.Run(bctx, chromedp.Location())
	wsURL = strings.TrimSuffix(wsURL, "/workflows")
	shot(t, bctx, shots, "03-workflows-empty")
	step("open API keys", chromedp.Click(css("nav.side a[href$='/settings/api-keys']")), chromedp.WaitVisible(css("#key-name")))
	shot(t, bctx, shots, "04-workspace-keys-empty")
	step("create workspace key",
		chromedp.Click(css("input[name=type][value=workspace]")),
		chromedp.SendKeys(css("#key-name"), "browser key"),
		chromedp.Click(css("form[data-keytype] button.primary")),
		chromedp.WaitVisible(css("#new-key-value")))
	plain, err := chromedp.Run(bctx, chromedp.Value(css("#new-key-value")))
	if err != nil || !regexp.MustCompile(`^sk-steelengine-[0-9A-Za-z]{38}$`).MatchString(plain) {
		t.Fatalf("new key shown = %q, %v", plain, err)
	}
	if !strings.Contains(text("#newkey"), "You will not see it again") {
		t.Error("the new key's panel does not say it is shown once")
	}
	shot(t, bctx, shots, "05-workspace-key-created")
	if code := keyGet(t, base+"/api/v1/logs?workspaceId="+wsID(wsURL), plain); code != 200 {
		t.Errorf("new workspace key against the API = %d", code)
	}
	step("reload keys", chromedp.Navigate(wsURL+"/settings/api-keys"), chromedp.WaitVisible(css("#key-name")))
	if page := html(); strings.Contains(page, plain) || !strings.Contains(page, "sk-steelengine-…"+plain[len(plain)-4:]) {
		t.Error("after a reload the key is shown again, or its last four are missing")
	}

	// Revoke it, through the confirmation.
	step("revoke",
		chromedp.Click(css("summary[aria-label='Revoke browser key']")),
		chromedp.WaitVisible(css("details[open] button.danger")))
	shot(t, bctx, shots, "06-revoke-confirm")
	step("confirm revoke", chromedp.Click(css("details[open] button.danger")), chromedp.WaitVisible(css(".notice")))
	if !strings.Contains(text(".notice"), "revoked") {
		t.Errorf("notice after revoke = %q", text(".notice"))
	}
	if code := keyGet(t, base+"/api/v1/logs?workspaceId="+wsID(wsURL), plain); code != http.StatusUnauthorized {
		t.Errorf("revoked key against the API = %d, want 401", code)
	}
	shot(t, bctx, shots, "07-workspace-key-revoked")

	// Import (file upload), deploy.
	fixture, _ := filepath.Abs(filepath.Join("..", "..", "test", "workflows", "greet.json"))
	step("import", chromedp.Navigate(wsURL+"/workflows"), chromedp.WaitVisible(css("#import-file")),
		chromedp.SetUploadFiles(css("#import-file"), []string{fixture}),
		chromedp.Click(css("form[action$='/workflows/import'] button.primary")),
		chromedp.WaitVisible(css("form[action$='/deploy'] button")))
	wfURL, _ := chromedp.Run(bctx, chromedp.Location())
	wfURL = strings.Split(wfURL, "?")[0]
	wfID := wfURL[strings.LastIndex(wfURL, "/")+1:]
	if h := text("h1"); h != "Greet" {
		t.Errorf("imported workflow is called %q", h)
	}
	shot(t, bctx, shots, "08-workflow-imported")
	step("deploy", chromedp.Click(css("form[action$='/deploy'] button")), chromedp.WaitVisible(css("#run-button")))
	if !strings.Contains(text(".notice"), "Deployed") {
		t.Errorf("notice after deploy = %q", text(".notice"))
	}
	shot(t, bctx, shots, "09-workflow-deployed")

	// Drag and drop: a file dropped on the zone is imported like a chosen one.
	echo, err := os.ReadFile(filepath.Join("..", "..", "test", "workflows", "echo.json"))
	if err != nil {
		t.Fatal(err)
	}
	drop := `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File([` + strconv.Quote(string(echo)) + `], "echo.json", {type: "application/json"}));
		const zone = document.querySelector(".drop");
		zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
		zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return document.querySelector("#import-file").files.length;
	})()`
	step("open import", chromedp.Navigate(wsURL+"/workflows"), chromedp.WaitVisible(css("#import-file")))
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](drop)); err != nil || n != 1 {
		t.Fatalf("drop a file: %d files, %v", n, err)
	}
	if name := text("[data-filename]"); !strings.Contains(name, "echo.json") {
		t.Errorf("drop zone says %q", name)
	}
	shot(t, bctx, shots, "09-import-dropped")
	step("import dropped file", chromedp.Click(css("form[action$='/workflows/import'] button.primary")), chromedp.WaitVisible(css("form[action$='/deploy'] button")))
	if h := text("h1"); h != "Echo" {
		t.Errorf("dropped workflow is called %q", h)
	}

	// Organization → Settings → API keys: a key with one grant on this workflow.
	step("open org", chromedp.Navigate(wsURL+"/workflows"), chromedp.Click(css("nav.side a[href^='/dashboard/organizations/']")),
		chromedp.WaitVisible(css("a[href$='/settings/api-keys']")))
	shot(t, bctx, shots, "10-organization")
	step("open org keys", chromedp.Click(css("main a[href$='/settings/api-keys']")), chromedp.WaitVisible(css("#grant-target-1")))
	// The grant editor adds rows (JavaScript); the empty ones are ignored on submit.
	step("add a grant row", chromedp.Click(css("[data-add-grant]")), chromedp.WaitVisible(css("#grant-target-4")))
	step("create org key",
		chromedp.SendKeys(css("#key-name"), "greet bot"),
		chromedp.SetValue(css("#grant-target-1"), "workflow:"+wfID),
		chromedp.SetValue(css("#grant-level-1"), "write"),
		chromedp.Click(css("form button.primary[type=submit]")),
		chromedp.WaitVisible(css("#new-key-value")))
	orgKey, _ := chromedp.Run(bctx, chromedp.Value(css("#new-key-value")))
	shot(t, bctx, shots, "11-org-key-created")
	if code := keyGet(t, base+"/api/workflows/"+wfID+"/status", orgKey); code != 200 {
		t.Errorf("org key on its workflow = %d", code)
	}
	step("workspace keys again", chromedp.Navigate(wsURL+"/settings/api-keys"), chromedp.WaitVisible(css("#org-title")))
	page := html()
	if i := strings.Index(page, "Organization keys with access to this workspace"); i < 0 || !strings.Contains(page[i:], "greet bot") || !strings.Contains(page[i:], "write on workflow") {
		t.Error("the workspace's settings do not list the org key with its workflow grant")
	}
	step("scroll to org keys", chromedp.ScrollIntoView(css("#org-title")))
	shot(t, bctx, shots, "12-workspace-keys-with-org-key")

	// Run from the generated form; see result and trace; open the log.
	step("run",
		chromedp.Navigate(wfURL), chromedp.WaitVisible(css("#in-name")),
		chromedp.SetValue(css("#in-name"), "Browser"),
		chromedp.SetValue(css("#in-n"), "4"),
		chromedp.Click(css("#run-button")),
		chromedp.WaitVisible(css("#run-output")))
	if out := text("#run-output"); !strings.Contains(out, "Hello Browser! 8") {
		t.Errorf("run output = %q", out)
	}
	// Snippet tabs switch with the keyboard-ready tab buttons.
	step("python tab", chromedp.Click(css("#tab-python")), chromedp.WaitVisible(css("#code-python")), chromedp.WaitNotVisible(css("#code-curl")))
	if py := text("#code-python"); !strings.Contains(py, `"X-API-Key": os.environ["STEELENGINE_API_KEY"]`) || !strings.Contains(py, base+"/api/workflows/"+wfID+"/execute") {
		t.Errorf("python snippet = %q", py)
	}
	step("scroll to result", chromedp.ScrollIntoView(css("#result")))
	shot(t, bctx, shots, "13-run-result")
	step("open log", chromedp.Click(css("#result a[href*='/logs/']")), chromedp.WaitVisible(css(".timeline")))
	if tl := text(".timeline"); !strings.Contains(tl, "Double It") || !strings.Contains(tl, "Greet") {
		t.Errorf("trace = %q", tl)
	}
	shot(t, bctx, shots, "14-log-detail")
	step("logs list", chromedp.Navigate(wsURL+"/logs"), chromedp.WaitVisible(css("svg.chart")))
	if !strings.Contains(text("#log-list"), "manual") {
		t.Error("the run is not in the logs list")
	}
	shot(t, bctx, shots, "15-logs")

	// Human in the loop: a run pauses at its approval; its uiUrl, opened in the browser,
	// leads to the approval page, whose form resumes the run.
	approval, _ := filepath.Abs(filepath.Join("..", "..", "test", "workflows", "approval.json"))
	step("import approval", chromedp.Navigate(wsURL+"/workflows"), chromedp.WaitVisible(css("#import-file")),
		chromedp.SetUploadFiles(css("#import-file"), []string{approval}),
		chromedp.Click(css("form[action$='/workflows/import'] button.primary")),
		chromedp.WaitVisible(css("form[action$='/deploy'] button")))
	apURL, _ := chromedp.Run(bctx, chromedp.Location())
	apURL = strings.Split(apURL, "?")[0]
	apID := apURL[strings.LastIndex(apURL, "/")+1:]
	step("deploy approval", chromedp.Click(css("form[action$='/deploy'] button")), chromedp.WaitVisible(css("#run-button")))
	step("run approval", chromedp.SetValue(css("#in-amount"), "4"), chromedp.Click(css("#run-button")),
		chromedp.WaitVisible(css("#run-paused-link")))
	logHref, err := chromedp.Run(bctx, chromedp.AttributeValue(css("#result a[href*='/logs/']"), "href"))
	if err != nil || !logHref.Exists {
		t.Fatalf("the paused run links no log: %v", err)
	}
	apExec := logHref.Value[strings.LastIndex(logHref.Value, "/")+1:]
	step("paused runs", chromedp.Click(css("#run-paused-link")), chromedp.WaitVisible(css("#paused-list")))
	shot(t, bctx, shots, "14-paused-runs")
	step("open the uiUrl", chromedp.Navigate(base+"/api/resume/"+apID+"/"+apExec), chromedp.WaitVisible(css("#resume-form")))
	if d := text("#resume-display"); !strings.Contains(d, "quote") || !strings.Contains(d, "8") {
		t.Errorf("approval shows %q", d)
	}
	shot(t, bctx, shots, "14-resume-form")
	step("approve",
		chromedp.Click(css("input[name=in_approved]")),
		chromedp.SendKeys(css("input[name=in_comment]"), "ok"),
		chromedp.Click(css("#resume-button")),
		chromedp.WaitVisible(css("#outcome")))
	if h, out := text("h1"), text("#resume-output"); !strings.Contains(h, "completed") || !strings.Contains(out, "approved 8: ok") {
		t.Errorf("after the approval: %q, output %q", h, out)
	}
	shot(t, bctx, shots, "14-resume-completed")
	step("resumed run's log", chromedp.Click(css("#outcome-log")), chromedp.WaitVisible(css(".timeline")))
	if tl := text(".timeline"); !strings.Contains(tl, "Decide") {
		t.Errorf("resumed trace = %q", tl)
	}

	step("account", chromedp.Navigate(base+"/dashboard/account"), chromedp.WaitVisible(css("#current")))
	shot(t, bctx, shots, "16-account")
	step("members", chromedp.Navigate(wsURL+"/settings/members"), chromedp.WaitVisible(css("#invite-email")),
		chromedp.SendKeys(css("#invite-email"), "colleague@example.com"),
		chromedp.Click(css("form[action$='/members/invite'] button")),
		chromedp.WaitVisible(css(".notice")))
	if !strings.Contains(text(".invites"), "colleague@example.com") {
		t.Error("the invitation is not listed as pending")
	}
	shot(t, bctx, shots, "16-members")
	step("environment", chromedp.Navigate(wsURL+"/settings/environment"), chromedp.WaitVisible(css("#env-name")),
		chromedp.SendKeys(css("#env-name"), "SERVICE_TOKEN"),
		chromedp.SendKeys(css("#env-value"), "browser-secret-value"),
		chromedp.Click(css("form[action$='/settings/environment'] button.primary")),
		chromedp.WaitVisible(css(".notice")))
	if page := html(); !strings.Contains(page, "SERVICE_TOKEN") || strings.Contains(page, "browser-secret-value") {
		t.Error("environment page does not list the variable by name only")
	}
	shot(t, bctx, shots, "16-environment")
	step("model providers", chromedp.Navigate(wsURL+"/settings/providers"), chromedp.WaitVisible(css("#p-name")),
		chromedp.SendKeys(css("#p-name"), "openai"),
		chromedp.SendKeys(css("#p-key"), "sk-provider-browser-secret"),
		chromedp.SendKeys(css("#p-default"), "gpt-4o-mini"),
		chromedp.Click(css("form[action$='/settings/providers'] button.primary")),
		chromedp.WaitVisible(css(".notice")))
	if page := html(); !strings.Contains(page, "gpt-4o-mini") || strings.Contains(page, "sk-provider-browser-secret") {
		t.Error("providers page does not list the provider without its key")
	}
	shot(t, bctx, shots, "16-providers")
	step("not found", chromedp.Navigate(base+"/dashboard/workspaces/nope/workflows"), chromedp.WaitVisible(css(".alert")))
	shot(t, bctx, shots, "16-not-found")

	// Dark mode follows the system.
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	step("dark workflow page", chromedp.Navigate(wfURL), chromedp.WaitVisible(css("#run-button")))
	shot(t, bctx, shots, "17-workflow-dark")
	step("dark logs", chromedp.Navigate(wsURL+"/logs"), chromedp.WaitVisible(css("svg.chart")))
	shot(t, bctx, shots, "18-logs-dark")

	step("sign out", chromedp.Click(css("form[action='/logout'] button")), chromedp.WaitVisible(css("#email")))
	shot(t, bctx, shots, "19-signed-out")
	step("signed out again", chromedp.Navigate(wsURL+"/settings/api-keys"), chromedp.WaitVisible(css("#email")))
	t.Logf("screenshots in %s", shots)
}

var dashboardRE = regexp.MustCompile(`(?m)^Dashboard: (\S+)$`)

// firstStart reads the one-time admin password and the dashboard URL that serve prints.
func firstStart(t *testing.T, stdout *syncBuffer) (password, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out := stdout.String()
		p, d := passwordRE.FindStringSubmatch(out), dashboardRE.FindStringSubmatch(out)
		if p != nil && d != nil {
			return p[1], d[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not print the first-start password and dashboard URL: %q", stdout.String())
	return "", ""
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func wsID(wsURL string) string { return wsURL[strings.LastIndex(wsURL, "/")+1:] }

func keyGet(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// shot saves a full-page PNG screenshot.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}
