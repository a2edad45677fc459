package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

func workspacesCommand() *cli.Command {
	wsFlag := &cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}
	return &cli.Command{
		Name:  "workspaces",
		Usage: "manage workspaces and their members",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a workspace",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true},
					&cli.StringFlag{Name: "owner", Required: true, Usage: "billing owner's email"},
					&cli.StringFlag{Name: "org", Usage: "organization id or name"},
				},
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						owner, err := cl.userID(c.Context, c.String("owner"))
						if err != nil {
							return err
						}
						body := obj{"name": c.String("name"), "ownerId": owner}
						if ref := c.String("org"); ref != "" {
							if body["organizationId"], err = cl.orgID(c.Context, ref); err != nil {
								return err
							}
						}
						var res obj
						if err := cl.do(c.Context, http.MethodPost, "/api/workspaces", nil, body, &res); err != nil {
							return err
						}
						ws, _ := res["workspace"].(obj)
						return printOut(c, ws, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG")
							row(w, ws["id"], ws["name"], orDash(ws["organizationId"]))
						})
					})
				},
			},
			{
				Name:  "add-member",
				Usage: "add a user to a workspace or change their permission",
				Flags: []cli.Flag{wsFlag,
					&cli.StringFlag{Name: "email", Required: true},
					&cli.StringFlag{Name: "permission", Value: "read", Usage: "read, write or admin"},
				},
				Action: func(c *cli.Context) error {
					perm := store.Level(c.String("permission"))
					if !perm.Valid() {
						return usagef("invalid --permission %q: allowed values are read, write, admin", perm)
					}
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						base := "/api/workspaces/" + url.PathEscape(wsID) + "/members"
						m, err := upsertMember(c, cl, base, obj{"email": c.String("email"), "permission": perm})
						if err != nil {
							return err
						}
						return printOut(c, m, func(w io.Writer) { row(w, wsID, m["email"], m["permission"]) })
					})
				},
			},
			{
				Name:  "remove-member",
				Usage: "remove a user from a workspace",
				Flags: []cli.Flag{wsFlag, &cli.StringFlag{Name: "email", Required: true}},
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						base := "/api/workspaces/" + url.PathEscape(wsID) + "/members"
						var list obj
						if err := cl.do(c.Context, http.MethodGet, base, nil, nil, &list); err != nil {
							return err
						}
						for _, m := range objs(list, "members") {
							if strings.EqualFold(str(m, "email"), c.String("email")) {
								if err := cl.do(c.Context, http.MethodDelete, base+"/"+url.PathEscape(str(m, "userId")), nil, nil, nil); err != nil {
									return err
								}
								out := obj{"workspaceId": wsID, "userId": m["userId"], "removed": true}
								return printOut(c, out, func(w io.Writer) { row(w, "removed", m["email"], "from", wsID) })
							}
						}
						return fmt.Errorf("%s is not a member of workspace %s", c.String("email"), wsID)
					})
				},
			},
			{
				Name:  "set",
				Usage: "change workspace settings",
				Flags: []cli.Flag{wsFlag,
					&cli.StringFlag{Name: "allow-personal-keys", Usage: "true or false"},
					&cli.StringFlag{Name: "org", Usage: "move the workspace into this organization (id or name)"},
					&cli.BoolFlag{Name: "no-org", Usage: "move the workspace out of its organization (drops org-key grants on it)"},
					&cli.StringFlag{Name: "name", Usage: "rename the workspace"},
				},
				Action: func(c *cli.Context) error {
					patch := obj{}
					if c.IsSet("allow-personal-keys") {
						b, err := strconv.ParseBool(c.String("allow-personal-keys"))
						if err != nil {
							return usagef("invalid --allow-personal-keys %q: allowed values are true, false", c.String("allow-personal-keys"))
						}
						patch["allowPersonalApiKeys"] = b
					}
					if c.IsSet("org") && c.Bool("no-org") {
						return usagef("--org and --no-org cannot be used together")
					}
					if n := c.String("name"); n != "" {
						patch["name"] = n
					}
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						switch {
						case c.Bool("no-org"):
							patch["organizationId"] = nil
						case c.IsSet("org"):
							if patch["organizationId"], err = cl.orgID(c.Context, c.String("org")); err != nil {
								return err
							}
						}
						var res obj
						if err := cl.do(c.Context, http.MethodPatch, "/api/workspaces/"+url.PathEscape(wsID), nil, patch, &res); err != nil {
							return err
						}
						ws, _ := res["workspace"].(obj)
						return printOut(c, ws, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG", "ALLOW PERSONAL KEYS")
							row(w, ws["id"], ws["name"], orDash(ws["organizationId"]), ws["allowPersonalApiKeys"])
						})
					})
				},
			},
			{
				Name:  "list",
				Usage: "list workspaces with their members",
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, "/api/workspaces", nil, nil, &res); err != nil {
							return err
						}
						wss := objs(res, "workspaces")
						for _, ws := range wss {
							var ms obj
							if err := cl.do(c.Context, http.MethodGet, "/api/workspaces/"+url.PathEscape(str(ws, "id"))+"/members", nil, nil, &ms); err != nil {
								return err
							}
							ws["members"] = objs(ms, "members")
						}
						return printOut(c, wss, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG", "OWNER", "MEMBERS", "ALLOW PERSONAL KEYS")
							for _, ws := range wss {
								row(w, ws["id"], ws["name"], orDash(ws["organizationId"]), ws["ownerId"], len(ws["members"].([]obj)), ws["allowPersonalApiKeys"])
							}
						})
					})
				},
			},
		},
	}
}
