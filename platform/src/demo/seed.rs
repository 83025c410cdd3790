//! A demo desk's past: staff, categories, canned answers, customers and
//! about a hundred tickets spread over the last 90 days (statuses,
//! priorities, replies, ratings), so that the queue, the Mini App's history
//! and the console's analytics have something to show.
//!
//! Written straight into the desk's storage in one transaction: the past
//! cannot be made through the API, which stamps everything "now". The same
//! seed gives the same desk on every run.

use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait as _, EntityTrait as _};
use tikethet_runtime::domain::{Priority, Role, TenantId, TicketStatus};
use tikethet_runtime::storage::entities::{canned_responses, categories, messages, ticket_ratings, ticket_tags, tickets, users};

use super::Desk;
use crate::AppState;

/// Tickets per desk.
pub const TICKETS: usize = 100;
/// Days the tickets are spread over.
const DAYS: i64 = 90;

/// What a desk says, in its language.
struct Script {
    staff: [(&'static str, &'static str, &'static str); 3],
    categories: [(&'static str, &'static str, &'static str); 4],
    canned: [(&'static str, &'static str); 3],
    customers: &'static [&'static str],
    /// (title, first message, category index, tag)
    problems: &'static [(&'static str, &'static str, usize, &'static str)],
    replies: &'static [&'static str],
    thanks: &'static [&'static str],
    comments: &'static [&'static str],
}

const EN: Script = Script {
    staff: [("Priya", "admin", "priya_support"), ("Marcus", "moderator", "marcus_helps"), ("Dana", "helper", "dana_desk")],
    categories: [("Orders", "📦", "#2b7de9"), ("Payments", "💳", "#16a34a"), ("Account", "👤", "#9333ea"), ("Technical", "🛠", "#ea580c")],
    canned: [
        ("hello", "Hi! Thanks for reaching out — I'm looking into this now."),
        ("refund", "Your refund is on its way: it shows on your statement within 5 business days."),
        ("thanks", "Glad I could help! If anything else comes up, just write here."),
    ],
    customers: &["Chloe", "Liam", "Sofia", "Noah", "Emma", "Lucas", "Mia", "Ethan", "Ava", "Leo", "Grace", "Owen", "Zoe", "Jack", "Ella", "Ryan"],
    problems: &[
        ("Where is my order?", "Hi, I ordered a week ago and the tracking page hasn't changed since Monday. Order #48213.", 0, "shipping"),
        ("Wrong size delivered", "I got a size M instead of L. Can I swap it?", 0, "returns"),
        ("Charged twice", "My card was charged twice for the same order this morning.", 1, "billing"),
        ("Refund not received", "You confirmed my return two weeks ago but the refund isn't on my card yet.", 1, "refund"),
        ("Can't log in", "The app says my password is wrong, and the reset email never arrives.", 2, "login"),
        ("Change my email", "How do I change the email address on my account?", 2, "account"),
        ("App crashes on checkout", "Every time I press Pay the app closes. iPhone 13, latest version.", 3, "bug"),
        ("Promo code not working", "The code SPRING20 says it's invalid, but the email says it's valid until Sunday.", 1, "promo"),
        ("Cancel my subscription", "Please cancel my monthly box, I'm moving abroad.", 2, "cancel"),
        ("Delivery to a pickup point", "Can you deliver to a pickup point instead of my home address?", 0, "shipping"),
    ],
    replies: &[
        "Thanks for waiting! I've checked with the warehouse — it left yesterday and should arrive within two days.",
        "Sorry about that! I've issued a correction; you'll get an email confirmation shortly.",
        "I've reset it on our side. Could you try again now?",
        "Done! Let me know if there's anything else.",
        "I've passed this to our tech team with your details; we'll update you here.",
    ],
    thanks: &["Perfect, thank you!", "It works now 🙌", "Great, thanks for the quick answer.", "Got it, thanks."],
    comments: &["Fast and friendly.", "Solved in minutes!", "Took a while, but sorted.", "Very helpful, thanks Priya!"],
};

const RU: Script = Script {
    staff: [("Анна", "admin", "anna_support"), ("Дмитрий", "moderator", "dmitry_help"), ("Светлана", "helper", "sveta_desk")],
    categories: [("Заказы", "📦", "#2b7de9"), ("Оплата", "💳", "#16a34a"), ("Аккаунт", "👤", "#9333ea"), ("Техника", "🛠", "#ea580c")],
    canned: [
        ("привет", "Здравствуйте! Спасибо за обращение — уже разбираюсь."),
        ("возврат", "Возврат оформлен: деньги поступят на карту в течение 5 рабочих дней."),
        ("спасибо", "Рады были помочь! Если что-то ещё понадобится — пишите сюда."),
    ],
    customers: &["Мария", "Алексей", "Екатерина", "Сергей", "Ольга", "Павел", "Наталья", "Игорь", "Татьяна", "Андрей", "Юлия", "Максим", "Ирина", "Никита", "Дарья", "Роман"],
    problems: &[
        ("Где мой заказ?", "Здравствуйте! Заказ №48213 оформлен неделю назад, статус не меняется с понедельника.", 0, "доставка"),
        ("Привезли не тот размер", "Пришёл размер M вместо L. Можно обменять?", 0, "обмен"),
        ("Списали дважды", "Сегодня утром с карты дважды списали оплату за один заказ.", 1, "оплата"),
        ("Не пришёл возврат", "Возврат подтвердили две недели назад, а денег на карте всё нет.", 1, "возврат"),
        ("Не могу войти", "Приложение пишет, что пароль неверный, а письмо для сброса не приходит.", 2, "вход"),
        ("Сменить почту", "Как поменять адрес почты в аккаунте?", 2, "аккаунт"),
        ("Приложение вылетает при оплате", "Нажимаю «Оплатить» — приложение закрывается. Android 14.", 3, "ошибка"),
        ("Промокод не работает", "Код ВЕСНА20 не принимается, хотя в письме сказано, что он действует до воскресенья.", 1, "промокод"),
        ("Отменить подписку", "Отмените, пожалуйста, ежемесячную подписку — я переезжаю.", 2, "отмена"),
        ("Доставка в пункт выдачи", "Можно доставить в пункт выдачи, а не домой?", 0, "доставка"),
    ],
    replies: &[
        "Спасибо за ожидание! Проверили на складе — посылка уехала вчера, будет у вас в течение двух дней.",
        "Приносим извинения! Всё исправили, подтверждение придёт на почту.",
        "Сбросили на нашей стороне. Попробуйте, пожалуйста, ещё раз.",
        "Готово! Если будут вопросы — пишите.",
        "Передали техническим специалистам, ответим здесь же.",
    ],
    thanks: &["Отлично, спасибо!", "Теперь всё работает 🙌", "Спасибо за быстрый ответ.", "Понял, спасибо."],
    comments: &["Быстро и вежливо.", "Решили за пару минут!", "Долго, но решили.", "Спасибо Анне, очень помогла!"],
};

/// The Telegram ids of a desk's seeded staff.
pub fn staff_ids(d: &Desk) -> impl Iterator<Item = i64> {
    let first = d.owner.id + 10;
    (0..EN.staff.len() as i64).map(move |i| first + i)
}

/// Gives the desk `tenant_id` its past.
pub async fn seed(state: &AppState, tenant_id: &str, d: &Desk) -> anyhow::Result<()> {
    let tenant = state
        .runtime
        .tenants()
        .get(&TenantId::from_stored(tenant_id.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("the desk {} is not being served", d.slug))?;
    let script = if d.language == "ru" { &RU } else { &EN };
    let mut rng = StdRng::seed_from_u64(d.customer.id as u64);
    let now = Utc::now();
    let txn = tenant.db.begin().await?;

    let mut staff = Vec::new();
    for ((name, role, username), telegram_id) in script.staff.iter().zip(staff_ids(d)) {
        let u = users::ActiveModel {
            telegram_id: Set(telegram_id),
            username: Set(Some((*username).to_owned())),
            first_name: Set((*name).to_owned()),
            last_name: Set(None),
            language_code: Set(Some(d.language.to_owned())),
            role: Set(Role::parse(role)?),
            blocked: Set(false),
            created_at: Set(now - Duration::days(DAYS + 30)),
            updated_at: Set(now - Duration::days(DAYS + 30)),
            bot_blocked_at: Set(None),
            support_pending: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        staff.push(u);
    }
    let mut category_ids = Vec::new();
    for (i, (name, icon, color)) in script.categories.iter().enumerate() {
        let c = categories::ActiveModel {
            name: Set((*name).to_owned()),
            icon: Set(Some((*icon).to_owned())),
            color: Set(Some((*color).to_owned())),
            sort_order: Set(i as i32),
            active: Set(true),
            created_at: Set(now - Duration::days(DAYS + 30)),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        category_ids.push(c.id);
    }
    for (shortcut, text) in script.canned {
        canned_responses::ActiveModel {
            shortcut: Set((*shortcut).to_owned()),
            text: Set((*text).to_owned()),
            created_at: Set(now - Duration::days(DAYS)),
            updated_at: Set(now - Duration::days(DAYS)),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    // The demo's own customer has only closed tickets, so that what they
    // type in the chat simulator opens a new one.
    let mut customers = vec![(d.customer.id, d.customer.first_name)];
    for (i, name) in script.customers.iter().enumerate() {
        customers.push((d.customer.id + 1000 + i as i64, *name));
    }
    let mut customer_ids = Vec::new();
    for (tg, name) in &customers {
        let since = now - Duration::days(DAYS + 10);
        let u = users::ActiveModel {
            telegram_id: Set(*tg),
            username: Set(None),
            first_name: Set((*name).to_owned()),
            last_name: Set(None),
            language_code: Set(Some(d.language.to_owned())),
            role: Set(Role::User),
            blocked: Set(false),
            created_at: Set(since),
            updated_at: Set(since),
            bot_blocked_at: Set(None),
            support_pending: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        customer_ids.push(u.id);
    }

    for n in 0..TICKETS {
        let (title, first, cat, tag) = script.problems[rng.random_range(0..script.problems.len())];
        let demo_customer = n < 2;
        let customer = if demo_customer { customer_ids[0] } else { customer_ids[rng.random_range(1..customer_ids.len())] };
        // A quarter of the tickets came this week, and most of those are
        // still being worked; older ones are nearly all finished.
        let age_minutes = if n % 4 == 0 { rng.random_range(10..7 * 24 * 60) } else { rng.random_range(30..DAYS * 24 * 60) };
        let created = now - Duration::minutes(age_minutes);
        let this_week = age_minutes < 7 * 24 * 60;
        let status = if demo_customer {
            "closed"
        } else {
            match (this_week, rng.random_range(0..100)) {
                (true, 0..=34) => "open",
                (true, 35..=59) => "in_progress",
                (true, 60..=74) => "waiting_response",
                (true, 75..=89) => "resolved",
                (true, _) => "closed",
                (false, 0..=2) => "open",
                (false, 3..=59) => "closed",
                (false, _) => "resolved",
            }
        };
        let priority = match rng.random_range(0..100) {
            0..=14 => "low",
            15..=74 => "normal",
            75..=94 => "high",
            _ => "critical",
        };
        let assignee = (status != "open").then(|| staff[rng.random_range(0..staff.len())].clone());
        let answered = status != "open";
        let first_response = answered.then(|| created + Duration::minutes(rng.random_range(2..240)));
        let finished = matches!(status, "resolved" | "closed");
        let resolved = finished.then(|| first_response.unwrap_or(created) + Duration::minutes(rng.random_range(5..2880))).map(|t| t.min(now));
        let closed = (status == "closed").then(|| resolved.unwrap_or(created) + Duration::hours(24)).map(|t| t.min(now));
        let updated = closed.or(resolved).or(first_response).unwrap_or(created);
        let t = tickets::ActiveModel {
            customer_id: Set(customer),
            title: Set(title.to_owned()),
            description: Set(first.to_owned()),
            status: Set(TicketStatus::parse(status)?),
            priority: Set(Priority::parse(priority)?),
            category_id: Set(Some(category_ids[cat])),
            assignee_id: Set(assignee.as_ref().map(|a| a.id)),
            created_at: Set(created),
            updated_at: Set(updated),
            first_response_at: Set(first_response),
            resolved_at: Set(resolved),
            closed_at: Set(closed),
            forum_topic_id: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let mut said = vec![(Some(customer), "user".to_owned(), first.to_owned(), false, created)];
        if let (Some(a), Some(at)) = (&assignee, first_response) {
            if rng.random_bool(0.3) {
                said.push((Some(a.id), a.role.to_string(), note(d), true, at - Duration::minutes(1)));
            }
            said.push((Some(a.id), a.role.to_string(), script.replies[rng.random_range(0..script.replies.len())].to_owned(), false, at));
            if finished {
                let thanks_at = (at + Duration::minutes(rng.random_range(1..120))).min(now);
                said.push((Some(customer), "user".to_owned(), script.thanks[rng.random_range(0..script.thanks.len())].to_owned(), false, thanks_at));
            }
        }
        let rows: Vec<messages::ActiveModel> = said
            .into_iter()
            .map(|(author, role, text, internal, at)| messages::ActiveModel {
                ticket_id: Set(t.id),
                author_id: Set(author),
                author_role: Set(role),
                text: Set(text),
                internal: Set(internal),
                telegram_message_id: Set(None),
                created_at: Set(at),
                edited_at: Set(None),
                deleted_at: Set(None),
                attachments: Set(None),
                ..Default::default()
            })
            .collect();
        messages::Entity::insert_many(rows).exec(&txn).await?;
        ticket_tags::Entity::insert(ticket_tags::ActiveModel { ticket_id: Set(t.id), tag: Set(tag.to_owned()) }).exec(&txn).await?;
        if let (true, Some(at)) = (finished, resolved) {
            if rng.random_bool(0.7) {
                let rating = match rng.random_range(0..100) {
                    0..=4 => 2,
                    5..=19 => 3,
                    20..=49 => 4,
                    _ => 5,
                };
                let comment = rng.random_bool(0.4).then(|| script.comments[rng.random_range(0..script.comments.len())].to_owned());
                ticket_ratings::Entity::insert(ticket_ratings::ActiveModel {
                    ticket_id: Set(t.id),
                    customer_id: Set(customer),
                    rating: Set(rating),
                    comment: Set(comment),
                    rated_at: Set((at + Duration::minutes(30)).min(now)),
                })
                .exec(&txn)
                .await?;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

fn note(d: &Desk) -> String {
    if d.language == "ru" { "Проверил заказ в системе — всё в порядке, отвечаю клиенту.".into() } else { "Checked the order in the admin — all fine, replying now.".into() }
}
