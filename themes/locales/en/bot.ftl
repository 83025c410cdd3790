# The bot's texts in en (Fluent: https://projectfluent.org/fluent/guide/).
# Each message is one text; its variables are the text's context (see themes/src/language.rs).

## Customers

welcome = { $emoji } Hi { $first_name }, welcome to { $desk }!

    Write your question here and our team will answer in this chat. Every conversation becomes a ticket you can follow.

    Send /help to see what I can do.

help = { $desk }: what I can do

    /support – open a new ticket, step by step
    /status – your open tickets
    /tickets – all your tickets in the app
    /help – this list

    Or simply write your message: it opens a ticket, or continues your open one.

suspended = { $desk } support is paused at the moment. Your message was not received; please try again later.

over_limit = Thank you, your message is saved. { $desk } cannot open new requests right now; we will pick yours up as soon as we can.

ticket_opened = Ticket #{ $number } is open: “{ $title }”. Our team will answer here.

message_added = Added to ticket #{ $number }.

staff_reply = 💬 #{ $number }: { $text }

unsupported = I can only read text messages for now. Please describe your request in words.

tickets = Your tickets with { $desk }: follow them, write in them and open new ones in the app.

tickets_link = Your tickets with { $desk } are at { $url }

status = You have { $count ->
        [one] { $count } open ticket
       *[other] { $count } open tickets
    }:

    { $tickets }
    .tickets = #{ $number } { $title } – { $status ->
        [open] open
        [in_progress] in progress
        [waiting_response] waiting for your reply
        [resolved] resolved
        [closed] closed
       *[other] { $status }
    }

status_empty = You have no open tickets. Write your question here, or send /support to start one step by step.

support_choose = What is it about? Choose a topic:

support_describe = { $category ->
        [none] {""}
       *[other] { $category }.{" "}
    }Describe your problem in one message, and I will open a new ticket for it.

support_other = Something else

button_open_ticket = Open ticket #{ $number }

button_stale = This button no longer works: its question was already answered.

button_open_app = Open my tickets

menu_button = Support

csat_ask = How did we do with #{ $number } ({ $title })? Rate us from 1 (poor) to 5 (excellent).

csat_thanks = Thank you for rating #{ $number } { $rating } of 5! If you like, write a comment in your next message, or send /skip.

csat_comment_thanks = Thanks, your comment is passed on to the team.

csat_skipped = All right. Write here any time you need us.

## Staff

admin_link = Your sign-in link to the { $desk } console: it works once, for 10 minutes.
    { $url }

button_open_console = Open the console

notify_new_ticket = New ticket #{ $number } from { $customer }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_assigned = Ticket #{ $number } is assigned to you{ $by ->
        [none] {""}
       *[other] {" "}by { $by }
    }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_customer_message = { $customer } wrote in #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_mention = { $author } mentioned you in a note on #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_reminder = ⏰ A reminder on #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_status = Your ticket #{ $number } ({ $title }) is now { $status ->
        [open] open
        [in_progress] in progress
        [waiting_response] waiting for your answer
        [resolved] resolved
        [closed] closed
       *[other] { $status }
    }.

button_open_in_console = Open in the console

sla_reminder = ⏰ { $kind ->
        [first_response] The first answer
       *[other] The resolution
    } of #{ $number } ({ $title }) is due at { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

sla_breach = ⚠️ #{ $number } ({ $title }) missed its { $kind ->
        [first_response] first-answer
       *[other] resolution
    } target: it was due at { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

staff_stats = 📊 { $desk } now: { $open } open, { $in_progress } in progress, { $waiting } waiting for customers.
    Last 7 days: { $created_7d } created, { $resolved_7d } resolved.
    First answer, median (30 days): { $first_response }.{ $csat ->
        [none] {""}
       *[other] {""}
            CSAT (30 days): { $csat }.
    }

role_changed = { $ok ->
        [true] @{ $username } is now { $role }.
       *[other] Not changed: { $reason }
    }

## The staff group

staff_group = { $outcome ->
        [linked] This group is now the staff room of { $desk }: each new ticket gets a topic here with the customer's messages. Write in a topic to answer the customer; start with /note for a note only staff see.
        [unlinked] This group no longer receives tickets.
        [not_forum] Turn on topics for this group first (group settings, Topics), make the bot an admin that may manage topics, then send /staffgroup again.
        [not_admin] Only the desk's admins and owner can link a staff group.
       *[other] This group is not the desk's staff group.
    }

topic_opened = 🆕 #{ $number } { $title }
    From { $customer }{ $username ->
        [none] {""}
       *[other] {" "}(@{ $username })
    }:
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

topic_customer_message = 💬 { $customer }:
    { $text }

topic_staff_message = { $note ->
        [true] 📝 Note by { $author }
       *[other] ↩️ { $author } answered
    }:
    { $text }

topic_refused = ⚠️ Not sent to the customer: { $reason }

topic_command = { $outcome ->
        [resolved] ✅ Resolved by { $author }; the customer is told.
        [assigned] 👤 { $author } gave the ticket to { $assignee }.
       *[other] ⚠️ Not done: { $reason }
    }

## Broadcasts

broadcast_confirm = Send this to { $count } { $count ->
        [one] customer
       *[other] customers
    }?

    { $text }

button_broadcast_send = 📣 Send to { $count }

button_broadcast_cancel = Cancel

broadcast_status = { $outcome ->
        [usage] Write /broadcast followed by the message to send to every customer. You confirm it before it goes; /broadcast stop halts one under way.
        [too_long] A broadcast is one message: at most { $limit } characters (this one has { $length }).
        [over_limit] Not sent: { $reason }.
        [nobody] No customer can be reached through the bot yet.
        [busy] Broadcast #{ $number } is still sending: { $done } of { $total } done. Wait for its report or stop it with /broadcast stop.
        [started] 📣 Broadcast #{ $number } is sending to { $total } customers, about { $minutes } min at the bot's rate. Send /broadcast to see its progress; the report follows at the end.
        [progress] 📣 Broadcast #{ $number }: { $done } of { $total } done ({ $sent } delivered, { $failed } not delivered).
        [cancelled] Broadcast cancelled; nothing was sent.
        [expired] This draft is over a day old; send /broadcast again.
        [stopped] Broadcast #{ $number } stopped: { $dropped } messages not sent. The report follows.
       *[other] No broadcast is sending.
    }

broadcast_report = 📣 Broadcast #{ $number } finished: { $sent } of { $total } delivered.{ $failed ->
        [0] {""}
       *[other] {""}
            { $failed } not delivered (blocked the bot, deleted their account, or stopped).
    }{ $unconfirmed ->
        [0] {""}
       *[other] {""}
            { $unconfirmed } interrupted by a restart during the send: Telegram may have delivered them; they were not sent again, so no one got it twice.
    }

## The desk's account

claim = { $outcome ->
        [claimed] { $desk } is yours. This is your sign-in link to the console: it works once, for 10 minutes.
            { $url }
            Send /admin whenever you need a new one.
        [taken] This desk already has an owner. To open a desk of your own, sign up with your own bot.
        [expired] This claim link has expired. Sign up again with the same bot token to get a new one{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
        [wrong] This claim link is not valid for this bot. Open the link from the signup page again, or sign up once more{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
       *[other] { $desk } is being set up and does not answer yet.
    }

trial = { $outcome ->
        [ending] The { $plan } trial of { $desk } ends in { $days } { $days ->
            [one] day
           *[other] days
        } ({ $date }). Choose a plan in the console (send /admin for a link) to keep its limits; otherwise the desk moves to { $fallback } and nothing is lost.
       *[other] The { $plan } trial of { $desk } has ended: the desk is now on { $fallback }. Messages over its limits are kept until you choose a plan in the console (send /admin for a link).
    }

domain = { $outcome ->
        [failing] The domain { $domain } of { $desk } failed today's check: its TXT record { $record } no longer holds the desk's token. Put it back (the console's Domain page shows it); { $checks_left } more failed daily { $checks_left ->
            [one] check
           *[other] checks
        } and the desk stops answering on { $domain }.
        [removed] { $desk } no longer answers on { $domain }: its TXT record { $record } failed three daily checks. The desk works as before on the platform's address; add the domain again in the console to bring it back.
        [restored] The TXT record { $record } holds again: { $desk } keeps answering on { $domain }.
       *[other] The platform's operator revoked the domain { $domain } of { $desk }: the desk answers on the platform's address only. Ask the operator if this is unexpected.
    }
