// The staff domain's console pages: the team (members, invitations, my sessions and 2-step verification), and
// the two public pages a link opens without signing in: accepting an invitation, resetting a password.
export default [
  { id: "staff", title: "team.title", group: "settings", order: 905, range: false, component: () => import("./Staff.vue") },
  { id: "staff-accept", title: "team.accept.title", group: "settings", order: 990, range: false, nav: false, public: true,
    component: () => import("./StaffAccept.vue") },
  { id: "staff-reset", title: "team.reset.title", group: "settings", order: 991, range: false, nav: false, public: true,
    component: () => import("./StaffReset.vue") },
];
