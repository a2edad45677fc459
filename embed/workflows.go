package embed

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// maxUploadBytes caps a workflow upload (and so every dashboard post).
const maxUploadBytes = 10 << 20

// Workflows of a workspace: list, import (file or drag and drop), deploy, roll back,
// and a run form built from the start block's input format, with copy-ready snippets.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}", func(d *Dashboard) handlerFunc { return d.wsRoot })
	addRoute("GET /dashboard/workspaces/{ws}/workflows", func(d *Dashboard) handlerFunc { return d.workflows })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/import", func(d *Dashboard) handlerFunc { return d.workflowImport })
	addRoute("GET /dashboard/workspaces/{ws}/workflows/{wf}", func(d *Dashboard) handlerFunc { return d.workflowPage })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/deploy", func(d *Dashboard) handlerFunc { return d.workflowDeploy })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/undeploy", func(d *Dashboard) handlerFunc { return d.workflowUndeploy })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/activate", func(d *Dashboard) handlerFunc { return d.workflowActivate })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/run", func(d *Dashboard) handlerFunc { return d.workflowRun })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/update", func(d *Dashboard) handlerFunc { return d.workflowUpdate })
	addRoute("GET /dashboard/workspaces/{ws}/workflows/{wf}/export", func(d *Dashboard) handlerFunc { return d.workflowExport })
}

func (d *Dashboard) wsRoot(w http.ResponseWriter, r *http.Request, v *visit) error {
	http.Redirect(w, r, "/dashboard/workspaces/"+r.PathValue("ws")+"/workflows", http.StatusSeeOther)
	return nil
}

type workflowsData struct {
	Workflows []*store.Workflow
	IsAdmin   bool
	FormError string
}

func (d *Dashboard) workflowsPage(w http.ResponseWriter, r *http.Request, v *visit, status int, formErr string) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	wfs, err := d.deps.Service.ListWorkflows(r.Context(), v.P, ws.Workspace.ID)
	if err != nil {
		return err
	}
	sort.SliceStable(wfs, func(i, j int) bool { return strings.ToLower(wfs[i].Name) < strings.ToLower(wfs[j].Name) })
	pg := v.wsPage(ws, "Workflows · "+ws.Workspace.Name, "workflows")
	pg.Data = &workflowsData{Workflows: wfs, IsAdmin: ws.Level == store.LevelAdmin, FormError: formErr}
	d.render(w, r, "workflows", status, pg)
	return nil
}

func (d *Dashboard) workflows(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.workflowsPage(w, r, v, http.StatusOK, "")
}

func (d *Dashboard) workflowImport(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	var data []byte
	if f, _, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(io.LimitReader(f, maxUploadBytes))
		f.Close()
		if err != nil {
			return err
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte(r.PostFormValue("json"))
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return d.workflowsPage(w, r, v, http.StatusBadRequest, "Choose a workflow file exported from Sim (JSON), or paste its contents.")
	}
	wf, err := d.deps.Service.ImportWorkflow(r.Context(), v.P, wsID, data)
	if err != nil {
		status, msg := describe(err)
		if status >= 500 || status == http.StatusForbidden {
			return err
		}
		return d.workflowsPage(w, r, v, status, msg)
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/workflows/"+wf.ID, "imported")
	return nil
}

// inputField is one field of the run form.
type inputField struct {
	engine.InputField
	Control string // text, number, checkbox, json
	Value   string
}

type workflowData struct {
	Workflow      *store.Workflow
	NeedsRedeploy bool
	IsAdmin       bool
	CanRun        bool
	Inputs        []inputField
	Versions      []core.Version // newest first
	Warnings      []string       // {{NAME}} references without a variable, after a deploy
	People        map[string]string
	Run           *store.Execution
	RunOutput     string
	Trace         []spanRow
	RunError      string
	Snippets      []snippet
	MCP           []snippet
	Example       string
	Paused        int // runs waiting at a pause point (see paused.go)
}

type snippet struct {
	ID, Label, Code string
}

// workflowOf loads a workflow of the workspace in the path; one of another workspace
// reads as not found.
func (v *visit) workflowOf(r *http.Request) (*core.WorkspaceAccess, *store.Workflow, error) {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return nil, nil, err
	}
	wf, err := v.d.deps.Service.GetWorkflow(r.Context(), v.P, r.PathValue("wf"))
	if err != nil {
		return nil, nil, hiddenAsNotFound(err)
	}
	if wf.WorkspaceID != ws.Workspace.ID {
		return nil, nil, &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not found, or you do not have access to it."}
	}
	return ws, wf, nil
}

func (d *Dashboard) workflowPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.renderWorkflow(w, r, v, http.StatusOK, workflowView{})
}

// workflowView is what a post adds to the workflow page it answers with.
type workflowView struct {
	run      *store.Execution
	values   map[string]string
	runErr   string
	notice   string
	warnings []string
}

func (d *Dashboard) renderWorkflow(w http.ResponseWriter, r *http.Request, v *visit, status int, wv workflowView) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	run, values := wv.run, wv.values
	data := &workflowData{Workflow: wf, IsAdmin: ws.Level == store.LevelAdmin, Run: run, RunError: wv.runErr, Warnings: wv.warnings}
	if _, needs, err := d.deps.Service.Status(ctx, v.P, wf.ID); err == nil {
		data.NeedsRedeploy = needs
	}
	_, vs, err := d.deps.Service.Versions(ctx, v.P, wf.ID)
	if err != nil {
		return err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		data.Versions = append(data.Versions, vs[i])
	}
	data.People = map[string]string{"operator": "operator (CLI)"}
	if ms, err := d.deps.Service.WorkspaceMembers(ctx, v.P, ws.Workspace.ID); err == nil {
		for _, m := range ms {
			data.People[m.User.ID] = m.User.Email
		}
	}
	if prs, err := d.deps.Service.PausedRuns(ctx, v.P, wf.ID); err == nil {
		data.Paused = len(prs)
	}
	var inputs []engine.InputField
	if wf.IsDeployed() {
		tools, err := d.deps.Service.ExecutableWorkflows(ctx, v.P, ws.Workspace.ID, []string{wf.ID})
		if err != nil && !isStatus(err, http.StatusForbidden) {
			return err
		}
		if len(tools) == 1 {
			data.CanRun, inputs = true, tools[0].Inputs
		}
	}
	example := map[string]any{}
	for _, f := range inputs {
		fi := inputField{InputField: f, Control: control(f.Type)}
		if f.HasDefault {
			example[f.Name] = f.Default
			fi.Value = formValue(f.Default)
		} else {
			example[f.Name] = zeroOf(f.Type)
		}
		if values != nil {
			fi.Value = values[f.Name]
		}
		data.Inputs = append(data.Inputs, fi)
	}
	if run != nil {
		data.RunOutput = prettyJSON(run.Output)
		data.Trace = traceRows(run.TraceSpans)
	}
	base := d.baseURL(r)
	data.Snippets, data.MCP = snippets(base, wf.ID, example)
	pg := v.wsPage(ws, wf.Name+" · "+ws.Workspace.Name, "workflows")
	if wv.notice != "" {
		pg.Notice = wv.notice
	}
	pg.Data = data
	d.render(w, r, "workflow", status, pg)
	return nil
}

func control(typ string) string {
	switch typ {
	case "number":
		return "number"
	case "boolean":
		return "checkbox"
	case "object", "array", "json", "files":
		return "json"
	}
	return "text"
}

func zeroOf(typ string) any {
	switch typ {
	case "number":
		return 0
	case "boolean":
		return false
	case "object", "json":
		return map[string]any{}
	case "array", "files":
		return []any{}
	}
	return ""
}

func formValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (d *Dashboard) workflowDeploy(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	if len(note) > core.MaxDeployNote {
		return badForm(fmt.Sprintf("The deploy note is too long (%d bytes at most).", core.MaxDeployNote))
	}
	res, err := d.deps.Service.Deploy(r.Context(), v.P, wf.ID, core.DeployRequest{Note: note})
	if err != nil {
		return err
	}
	if len(res.Warnings) > 0 {
		// Shown with the page rather than through a redirect: the names come from the
		// workflow, and a redirect carries only fixed notices.
		return d.renderWorkflow(w, r, v, http.StatusOK, workflowView{notice: fmt.Sprintf("Deployed as v%d.", res.Deployment.Version), warnings: res.Warnings})
	}
	redirect(w, r, "/dashboard/workspaces/"+ws.Workspace.ID+"/workflows/"+wf.ID, "deployed")
	return nil
}

func (d *Dashboard) workflowUndeploy(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	if _, err := d.deps.Service.Undeploy(r.Context(), v.P, wf.ID); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+ws.Workspace.ID+"/workflows/"+wf.ID, "undeployed")
	return nil
}

func (d *Dashboard) workflowActivate(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(r.PostFormValue("version"), 10, 32)
	if err != nil || n == 0 {
		return badForm("Choose a version to activate.")
	}
	if _, err := d.deps.Service.Deploy(r.Context(), v.P, wf.ID, core.DeployRequest{Version: uint32(n)}); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+ws.Workspace.ID+"/workflows/"+wf.ID, "activated")
	return nil
}

// workflowRun runs the deployed version with the form's inputs, as the signed-in user
// (trigger manual), and shows the recorded result and trace.
func (d *Dashboard) workflowRun(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	tools, err := d.deps.Service.ExecutableWorkflows(r.Context(), v.P, ws.Workspace.ID, []string{wf.ID})
	if err != nil {
		return err
	}
	if len(tools) != 1 {
		return &core.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "This workflow is not deployed, or you need write permission to run it."}
	}
	input := map[string]any{}
	values := map[string]string{}
	for _, f := range tools[0].Inputs {
		raw := r.PostFormValue("in_" + f.Name)
		values[f.Name] = raw
		val, set, err := parseInput(f, raw)
		if err != nil {
			return d.renderWorkflow(w, r, v, http.StatusBadRequest, workflowView{values: values, runErr: err.Error()})
		}
		if set {
			input[f.Name] = val
		}
	}
	run, err := d.deps.Service.Execute(r.Context(), v.P, core.RunRequest{WorkflowID: wf.ID, Input: input, Trigger: store.TriggerManual})
	if err != nil {
		status, msg := describe(err)
		if status >= 500 {
			return err
		}
		return d.renderWorkflow(w, r, v, status, workflowView{values: values, runErr: msg})
	}
	return d.renderWorkflow(w, r, v, http.StatusOK, workflowView{run: run.Execution, values: values})
}

// parseInput converts a form value to the field's type; an empty value is left out so
// the start block's default applies.
func parseInput(f engine.InputField, raw string) (any, bool, error) {
	switch control(f.Type) {
	case "checkbox":
		return raw == "true", true, nil
	case "number":
		if strings.TrimSpace(raw) == "" {
			return nil, false, nil
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return nil, false, fmt.Errorf("%s must be a number", f.Name)
		}
		return n, true, nil
	case "json":
		if strings.TrimSpace(raw) == "" {
			return nil, false, nil
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, false, fmt.Errorf("%s must be JSON (%v)", f.Name, err)
		}
		return v, true, nil
	}
	if raw == "" && f.HasDefault {
		return nil, false, nil
	}
	return raw, true, nil
}

// snippets are the seed's curl, TypeScript and Python examples with this instance's
// URL, the workflow id and its inputs filled in; and the MCP connection settings.
func snippets(base, wfID string, example map[string]any) (code, mcp []snippet) {
	inputs, _ := json.Marshal(map[string]any{"inputs": example})
	pretty, _ := json.MarshalIndent(example, "    ", "  ")
	url := base + "/api/workflows/" + wfID + "/execute"
	code = []snippet{
		{"curl", "curl", "curl -X POST " + url + " \\\n" +
			"  -H \"Content-Type: application/json\" \\\n" +
			"  -H \"X-API-Key: YOUR_API_KEY\" \\\n" +
			"  -d '" + strings.ReplaceAll(string(inputs), "'", `'\''`) + "'"},
		{"ts", "TypeScript", "const response = await fetch(\n" +
			"  '" + url + "',\n" +
			"  {\n" +
			"    method: 'POST',\n" +
			"    headers: {\n" +
			"      'Content-Type': 'application/json',\n" +
			"      'X-API-Key': process.env.STEELENGINE_API_KEY!,\n" +
			"    },\n" +
			"    body: JSON.stringify({ inputs: " + string(pretty) + " }),\n" +
			"  }\n" +
			")"},
		{"python", "Python", "import os\nimport requests\n\n" +
			"response = requests.post(\n" +
			"    \"" + url + "\",\n" +
			"    headers={\n" +
			"        \"Content-Type\": \"application/json\",\n" +
			"        \"X-API-Key\": os.environ[\"STEELENGINE_API_KEY\"],\n" +
			"    },\n" +
			"    json={\"inputs\": " + pyLiteral(string(pretty)) + "},\n" +
			")"},
	}
	mcpURL := base + "/mcp"
	mcp = []snippet{
		{"mcp-url", "Server URL (streamable HTTP, header X-API-Key)", mcpURL},
		{"mcp-cursor", "Cursor (.cursor/mcp.json)", "{\n  \"mcpServers\": {\n    \"steelengine\": {\n      \"url\": \"" + mcpURL + "\",\n      \"headers\": { \"X-API-Key\": \"YOUR_API_KEY\" }\n    }\n  }\n}"},
		{"mcp-claude", "Claude Desktop (claude_desktop_config.json, through mcp-remote)", "{\n  \"mcpServers\": {\n    \"steelengine\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"mcp-remote\", \"" + mcpURL + "\", \"--header\", \"X-API-Key:${STEELENGINE_API_KEY}\"],\n      \"env\": { \"STEELENGINE_API_KEY\": \"YOUR_API_KEY\" }\n    }\n  }\n}"},
	}
	return code, mcp
}

// pyLiteral turns JSON literals into Python ones (true/false/null).
func pyLiteral(js string) string {
	var b strings.Builder
	inStr, esc := false, false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if inStr {
			b.WriteByte(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			b.WriteByte(c)
			continue
		}
		switch {
		case strings.HasPrefix(js[i:], "true"):
			b.WriteString("True")
			i += 3
		case strings.HasPrefix(js[i:], "false"):
			b.WriteString("False")
			i += 4
		case strings.HasPrefix(js[i:], "null"):
			b.WriteString("None")
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// workflowUpdate replaces the draft with an uploaded Sim export, in place: the id, the
// keys narrowed to it and the grants on it stay.
func (d *Dashboard) workflowUpdate(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return badForm("Choose the new version's file, exported from Sim (JSON).")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxUploadBytes))
	f.Close()
	if err != nil {
		return err
	}
	if _, err := d.deps.Service.UpdateWorkflow(r.Context(), v.P, wf.ID, data); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+ws.Workspace.ID+"/workflows/"+wf.ID, "updated")
	return nil
}

// workflowExport downloads the draft (no version) or a deployed version in Sim's
// format; environment values are never part of it.
func (d *Dashboard) workflowExport(w http.ResponseWriter, r *http.Request, v *visit) error {
	_, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	var version uint32
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return badForm("Unknown version.")
		}
		version = uint32(n)
	}
	data, err := d.deps.Service.ExportWorkflow(r.Context(), v.P, wf.ID, version)
	if err != nil {
		return err
	}
	name := "workflow-" + wf.ID
	if version > 0 {
		name += "-v" + strconv.FormatUint(uint64(version), 10)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
	return nil
}
