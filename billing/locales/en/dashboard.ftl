# The operator dashboard's words in English: the source. A template asks
# for a text by its English (`{{ "Tenants" | t }}`), which finds its id
# here; texts with values are asked for by id
# (`{{ "page-of" | t(page=1, pages=3) }}`), and counts select their plural
# form (`$count`). The texts with markup are the `t_html` filter's: their
# markup is kept, their values are escaped.

## The frame of every page.

tikethet-operator = TiketHet operator
skip-to-content = Skip to content
operator = operator
main = Main
overview = Overview
tenants = Tenants
api = API
language = Language
sign-out = Sign out
billing-is-offline-no-stripe-keys-are = Billing is offline: no Stripe keys are configured. Plans are set here by hand, usage is still metered, and nothing is charged.
back-to-the-overview = Back to the overview

## Signing in.

sign-in = Sign in
paste-the-operator-token = Paste the operator token (<code>TIKETHET_OPERATOR_TOKEN</code>; <code>tikethet serve</code> printed it on its first start). You stay signed in on this browser for 12 hours.
operator-token = Operator token
you-are-signed-out = You are signed out.
that-is-not-the-operator-token = That is not the operator token.

## The overview: key figures and revenue.

key-figures = Key figures
mrr = MRR
arr = ARR
mrr-12 = MRR × 12
paying-tenants = Paying tenants
active-tenants = Active tenants
behind-on-payment = Behind on payment
amount-this-month = { $amount } this month
of-tenants-count =
    { $count ->
        [one] of { $count } tenant
       *[other] of { $count } tenants
    }
suspended-count =
    { $count ->
        [one] { $count } suspended
       *[other] { $count } suspended
    }
failed-payments-in-30-days =
    { $count ->
        [one] { $count } failed payment in 30 days
       *[other] { $count } failed payments in 30 days
    }
mrr-movements = MRR movements
subscriptions-that-are-active-or-past-due = Subscriptions that are active or past due, at their plan's price; trials and metered usage are not in MRR.
mrr-movements-per-month = MRR movements per month
as-a-table = As a table
month = Month
new = New
won-back = Won back
expansion = Expansion
contraction = Contraction
churn = Churn
net = Net
mrr-at-end = MRR at end
new-2 = new
won-back-2 = won back
expansion-2 = expansion
contraction-2 = contraction
churn-2 = churn

## The overview: usage across tenants.

usage-last-30-days = Usage, last 30 days
all-tenants-per-day = All tenants, per day.
read-at = Read { $at }.
tenants-could-not-be-read =
    { $count ->
        [one] { $count } tenant could not be read
       *[other] { $count } tenants could not be read
    }
metered-this-month-reported = Metered this month: { $messages } messages and { $calls } plugin calls, reported to Stripe and priced there (not in MRR).
metered-this-month-offline = Metered this month: { $messages } messages and { $calls } plugin calls (offline: not charged).
usage-per-day-all-tenants = Usage per day, all tenants
active-tenants-per-day = Active tenants per day
tenants-with-activity-per-day = Tenants with activity per day
active-tenants-2 = active tenants
messages = messages
tickets = tickets
plugin-calls = plugin calls

## The overview: who needs attention.

unpaid-since-suspended = unpaid since { $since }; suspended { $date }
unpaid-since-suspended-unless-paid = unpaid since { $since }; suspended on { $date } unless paid
every-subscription-is-paid-up = Every subscription is paid up.
failed-payments-30-days = Failed payments, 30 days
a-customer-of-no-tenant = A customer of no tenant
amount-on-at-attempt = { $amount } on { $at }, attempt { $attempt }
next-try = next try { $at }
invoice = invoice
no-failed-payments = No failed payments.
trials-ending = Trials ending
ends-at = ends { $at }
no-trial-ends-in-the-next-days = No trial ends in the next days.

## The overview: signups.

signups = Signups
signups-are-off = Signups are off (<code>TIKETHET_SIGNUP=off</code>): desks are opened here or through the operator API. Set it to <code>open</code>, or <code>invite</code> for codes made below, to let businesses open desks at <a href="/signup">/signup</a>.
businesses-open-desks-anyone = Businesses open desks at <a href="/signup">/signup</a> (anyone with a bot token). A desk nobody claims within a day is removed.
businesses-open-desks-invitation = Businesses open desks at <a href="/signup">/signup</a> (with an invitation code). A desk nobody claims within a day is removed.
started = Started
claimed = Claimed
trialling = Trialling
paying = Paying
expired-unclaimed = Expired unclaimed
new-invitation-code-shown-once-copy-it = New invitation code (shown once; copy it now):
invitation-for = Invitation for
who-it-is-for-optional = Who it is for (optional)
make-an-invitation-code = Make an invitation code
invitations = Invitations
for = For
made = Made
used = Used
not-yet = not yet

## The overview: domains.

domains = Domains
desks-own-domains = Desks' own domains. A desk proves one with a DNS TXT record before it is routed and the proxy may get its certificate (<code>/tls/ask</code>); proven domains are checked daily. Revoking stops routing at once and tells the desk's owner.
domain = Domain
desk = Desk
state = State
proven = Proven
last-check = Last check
routed = (routed)
revoke = Revoke
no-desk-has-its-own-domain-yet = No desk has its own domain yet.
set-by-the-operator = set by the operator
pending = pending
verified = verified
failing = failing
removed = removed
revoked = revoked

## The overview: the tenants.

search = Search
search-by-name-or-slug = Search by name or slug
status = Status
any-status = Any status
filter = Filter
tenant = Tenant
plan = Plan
usage-against-limits = Usage against limits
last-active = Last active
never = never
pages = Pages
previous = ← Previous
page-of = Page { $page } of { $pages }
next = Next →
no-tenant-matches = No tenant matches.
show-all = Show all
no-tenants-yet-provision-the-first-one = No tenants yet: provision the first one below.
active = active
suspended = suspended
past-due = past due
trialing = trialing
canceled = canceled
unpaid = unpaid
incomplete = incomplete
incomplete-expired = incomplete expired
paused = paused

## Provisioning a tenant.

provision-a-tenant = Provision a tenant
the-bot-token-is-checked-with-telegram = The bot token is checked with Telegram, stored encrypted and never shown again; the webhook is registered at once.
slug = Slug
name = Name
acme-support = Acme support
bot-token = Bot token
owner-s-telegram-id = Owner's Telegram id
provision = Provision
price-month = { $price }/month

## A tenant's page.

suspend = Suspend…
suspend-name = Suspend <strong>{ $name }</strong>? Its bot answers customers that the desk is paused, staff cannot work in it, and Telegram's updates are still kept. Nothing is deleted; resume at any time.
yes-suspend = Yes, suspend { $slug }
resume = Resume
owner-id = owner { $id }
since-date = since { $date }
usage-this-month = Usage this month
plugin-calls-this-month = Plugin calls this month: { $calls } (metered, not limited).
subscription = Subscription
none-yet = none yet
stripe-customer = Stripe customer
unpaid-since = Unpaid since
grace-ends = grace ends { $date }
suspended-2 = Suspended
by-billing-paying-resumes-it = by billing: paying resumes it
last-change = Last change
no-stripe-customer-yet-billing-is-offline = No Stripe customer yet: billing is offline.
no-stripe-customer-yet-the-owner-subscribes = No Stripe customer yet: the owner subscribes from the console's billing page.
usage-over-time-last-90-days = Usage over time, last 90 days
usage-per-day-last-90-days = Usage per day, last 90 days
day = Day
nothing-counted-in-the-last-90-days = Nothing counted in the last 90 days.
plan-and-limits = Plan and limits
change-plan = Change plan
this-tenant-pays-through-stripe-its-next = This tenant pays through Stripe: its next subscription event sets the plan it paid for.
override-limits = Override limits
empty-keeps-the-plans-value = Empty keeps the plan's value (shown greyed); a number sets it; <code>unlimited</code> lifts it.
save-limits = Save limits
limit-not-a-number = { $limit }: { $value } is neither a whole number nor "unlimited"
agents = Agents
tickets-this-month = Tickets this month
messages-this-month = Messages this month
plugins = Plugins
largest-attachment = Largest attachment
attachment-storage = Attachment storage
unlimited = unlimited
bytes = bytes
invoices = Invoices
invoice-2 = Invoice
date = Date
due = Due
paid = Paid
no-invoices-yet = No invoices yet.
payment-failed = payment failed
draft = draft
open = open
paid-2 = paid
void = void
uncollectible = uncollectible
stripe-events = Stripe events
when = When
event = Event
what-it-did = What it did
no-stripe-events-about-this-tenant = No Stripe events about this tenant.
operator-actions = Operator actions
by = By
action = Action
detail = Detail
no-operator-action-on-this-tenant-yet = No operator action on this tenant yet.

## What a finished action says.

provisioned-the-bot-s-webhook-is-registered = Provisioned: the bot's webhook is registered and the desk is live.
suspended-the-desk-s-customers-are-told = Suspended. The desk's customers are told it is paused; nothing is deleted.
resumed-the-desk-runs-again = Resumed: the desk runs again.
plan-changed = Plan changed.
limits-saved = Limits saved.
domain-revoked-the-desk-no-longer-answers = Domain revoked: the desk no longer answers on it, and its owner was told.

## Errors.

something-went-wrong-on-our-side-the = Something went wrong on our side; the server log says what. Nothing was changed.
the-overview-could-not-be-read = The overview could not be read
the-tenant-could-not-be-read = The tenant could not be read
no-such-tenant = No such tenant
there-is-no-tenant = There is no tenant { $slug }.
must-be-a-telegram-user-id-a = must be a Telegram user id (a whole number)
no-such-action = No such action
the-dashboard-has-no-such-action = The dashboard has no such action.
refused = Refused
too-long = Too long
not-accepted = Not accepted
this-request-came-from-another-site-nothing = This request came from another site; nothing was changed.
the-form-s-security-token-is-missing = The form's security token is missing or out of date (a page left open too long?). Nothing was changed: reload the page and try again.
that-was-longer-than-the-page-takes = That was longer than the page takes; nothing was changed.
the-form-could-not-be-read = The form could not be read ({ $why }); nothing was changed. Reload the page and try again.
