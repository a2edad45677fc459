package main

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

func orgsCommand() *cli.Command {
	return &cli.Command{
		Name:  "orgs",
		Usage: "manage organizations",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create an organization",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true},
					&cli.StringFlag{Name: "owner", Required: true, Usage: "owner's email"},
				},
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						owner, err := cl.userID(c.Context, c.String("owner"))
						if err != nil {
							return err
						}
						var res obj
						if err := cl.do(c.Context, http.MethodPost, "/api/organizations", nil, obj{"name": c.String("name"), "ownerId": owner}, &res); err != nil {
							return err
						}
						o, _ := res["organization"].(obj)
						return printOut(c, o, func(w io.Writer) {
							row(w, "ID", "NAME")
							row(w, o["id"], o["name"])
						})
					})
				},
			},
			{
				Name:  "add-member",
				Usage: "add a user to an organization or change their role",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "org", Required: true, Usage: "organization id or name"},
					&cli.StringFlag{Name: "email", Required: true},
					&cli.StringFlag{Name: "role", Value: "member", Usage: "owner, admin or member"},
				},
				Action: func(c *cli.Context) error {
					role := store.OrgRole(c.String("role"))
					if !role.Valid() {
						return usagef("invalid --role %q: allowed values are owner, admin, member", role)
					}
					return withAPI(c, func(cl *apiClient) error {
						orgID, err := cl.orgID(c.Context, c.String("org"))
						if err != nil {
							return err
						}
						base := "/api/organizations/" + url.PathEscape(orgID) + "/members"
						m, err := upsertMember(c, cl, base, obj{"email": c.String("email"), "role": role})
						if err != nil {
							return err
						}
						return printOut(c, m, func(w io.Writer) { row(w, orgID, m["email"], m["role"]) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list organizations with their members",
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						var res, wsRes obj
						if err := cl.do(c.Context, http.MethodGet, "/api/organizations", nil, nil, &res); err != nil {
							return err
						}
						if err := cl.do(c.Context, http.MethodGet, "/api/workspaces", nil, nil, &wsRes); err != nil {
							return err
						}
						orgs := objs(res, "organizations")
						for _, o := range orgs {
							var ms obj
							if err := cl.do(c.Context, http.MethodGet, "/api/organizations/"+url.PathEscape(str(o, "id"))+"/members", nil, nil, &ms); err != nil {
								return err
							}
							o["members"] = objs(ms, "members")
							ids := []string{}
							for _, ws := range objs(wsRes, "workspaces") {
								if str(ws, "organizationId") == str(o, "id") {
									ids = append(ids, str(ws, "id"))
								}
							}
							o["workspaceIds"] = ids
						}
						return printOut(c, orgs, func(w io.Writer) {
							row(w, "ID", "NAME", "MEMBERS", "WORKSPACES")
							for _, o := range orgs {
								row(w, o["id"], o["name"], len(o["members"].([]obj)), len(o["workspaceIds"].([]string)))
							}
						})
					})
				},
			},
		},
	}
}

// upsertMember adds a member through base (a members collection) or, when they are one
// already, changes their role or permission.
func upsertMember(c *cli.Context, cl *apiClient, base string, body obj) (obj, error) {
	var res obj
	err := cl.do(c.Context, http.MethodPost, base, nil, body, &res)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusConflict {
		var list obj
		if err := cl.do(c.Context, http.MethodGet, base, nil, nil, &list); err != nil {
			return nil, err
		}
		for _, m := range objs(list, "members") {
			if strings.EqualFold(str(m, "email"), str(body, "email")) {
				delete(body, "email")
				err = cl.do(c.Context, http.MethodPatch, base+"/"+url.PathEscape(str(m, "userId")), nil, body, &res)
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	m, _ := res["member"].(obj)
	return m, nil
}
