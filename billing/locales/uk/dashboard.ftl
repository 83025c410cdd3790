# Слова панелі оператора українською (джерело: ../en/dashboard.ftl).

## The frame of every page.

tikethet-operator = оператор TiketHet
skip-to-content = Перейти до вмісту
operator = оператор
main = Головне
overview = Огляд
tenants = Служби
api = API
language = Мова
sign-out = Вийти
billing-is-offline-no-stripe-keys-are = Білінг вимкнено: ключі Stripe не налаштовано. Тарифи призначаються тут вручну, використання й далі обліковується, але нічого не списується.
back-to-the-overview = Назад до огляду

## Signing in.

sign-in = Вхід
paste-the-operator-token = Вставте токен оператора (<code>TIKETHET_OPERATOR_TOKEN</code>; <code>tikethet serve</code> вивів його під час першого запуску). Вхід у цьому браузері діє 12 годин.
operator-token = Токен оператора
you-are-signed-out = Ви вийшли.
that-is-not-the-operator-token = Це не токен оператора.

## The overview: key figures and revenue.

key-figures = Ключові показники
mrr = MRR
arr = ARR
mrr-12 = MRR × 12
paying-tenants = Служби, що платять
active-tenants = Активні служби
behind-on-payment = Прострочили оплату
amount-this-month = { $amount } цього місяця
of-tenants-count =
    { $count ->
        [one] з { $count } служби
        [few] з { $count } служб
       *[many] з { $count } служб
    }
suspended-count =
    { $count ->
        [one] { $count } призупинена
        [few] { $count } призупинені
       *[many] { $count } призупинено
    }
failed-payments-in-30-days =
    { $count ->
        [one] { $count } невдалий платіж за 30 днів
        [few] { $count } невдалі платежі за 30 днів
       *[many] { $count } невдалих платежів за 30 днів
    }
mrr-movements = Рух MRR
subscriptions-that-are-active-or-past-due = Активні та прострочені підписки за ціною їхнього тарифу; пробні періоди й обліковане використання до MRR не входять.
mrr-movements-per-month = Рух MRR за місяцями
as-a-table = Таблицею
month = Місяць
new = Нові
won-back = Повернені
expansion = Розширення
contraction = Скорочення
churn = Відтік
net = Разом
mrr-at-end = MRR на кінець
new-2 = нові
won-back-2 = повернені
expansion-2 = розширення
contraction-2 = скорочення
churn-2 = відтік

## The overview: usage across tenants.

usage-last-30-days = Використання за останні 30 днів
all-tenants-per-day = Усі служби, за днями.
read-at = Дані на { $at }.
tenants-could-not-be-read =
    { $count ->
        [one] { $count } службу не вдалося прочитати
        [few] { $count } служби не вдалося прочитати
       *[many] { $count } служб не вдалося прочитати
    }
metered-this-month-reported = Обліковано за місяць: повідомлень — { $messages }, викликів плагінів — { $calls }; передано до Stripe й оцінено там (не входить до MRR).
metered-this-month-offline = Обліковано за місяць: повідомлень — { $messages }, викликів плагінів — { $calls } (білінг вимкнено: без оплати).
usage-per-day-all-tenants = Використання за днями, усі служби
active-tenants-per-day = Активні служби за днями
tenants-with-activity-per-day = Служби з активністю за днями
active-tenants-2 = активні служби
messages = повідомлення
tickets = звернення
plugin-calls = виклики плагінів

## The overview: who needs attention.

unpaid-since-suspended = не оплачено з { $since }; призупинена { $date }
unpaid-since-suspended-unless-paid = не оплачено з { $since }; буде призупинена { $date }, якщо не оплатять
every-subscription-is-paid-up = Усі підписки оплачено.
failed-payments-30-days = Невдалі платежі за 30 днів
a-customer-of-no-tenant = Клієнт Stripe без служби
amount-on-at-attempt = { $amount } від { $at }, спроба { $attempt }
next-try = наступна спроба { $at }
invoice = рахунок
no-failed-payments = Невдалих платежів немає.
trials-ending = Закінчуються пробні періоди
ends-at = закінчується { $at }
no-trial-ends-in-the-next-days = Найближчими днями пробні періоди не закінчуються.

## The overview: signups.

signups = Реєстрації
signups-are-off = Реєстрацію вимкнено (<code>TIKETHET_SIGNUP=off</code>): служби відкриваються тут або через API оператора. Встановіть <code>open</code> або <code>invite</code> (за кодами, створеними нижче), щоб компанії могли відкривати служби на <a href="/signup">/signup</a>.
businesses-open-desks-anyone = Компанії відкривають служби на <a href="/signup">/signup</a> (будь-хто з токеном бота). Службу, яку ніхто не підтвердив за добу, видаляємо.
businesses-open-desks-invitation = Компанії відкривають служби на <a href="/signup">/signup</a> (за кодом запрошення). Службу, яку ніхто не підтвердив за добу, видаляємо.
started = Розпочато
claimed = Підтверджено
trialling = На пробному періоді
paying = Платять
expired-unclaimed = Минули без підтвердження
new-invitation-code-shown-once-copy-it = Новий код запрошення (показується один раз, скопіюйте його зараз):
invitation-for = Запрошення для
who-it-is-for-optional = Для кого (необов’язково)
make-an-invitation-code = Створити код запрошення
invitations = Запрошення
for = Для кого
made = Створено
used = Використано
not-yet = ще ні

## The overview: domains.

domains = Домени
desks-own-domains = Власні домени служб. Служба підтверджує домен записом DNS TXT, перш ніж на нього піде трафік і проксі зможе отримати сертифікат (<code>/tls/ask</code>); підтверджені домени перевіряються щодня. Відкликання одразу зупиняє маршрутизацію та повідомляє власника служби.
domain = Домен
desk = Служба
state = Стан
proven = Підтверджено
last-check = Остання перевірка
routed = (маршрутизується)
revoke = Відкликати
no-desk-has-its-own-domain-yet = Поки жодна служба не має власного домену.
set-by-the-operator = задано оператором
pending = очікує перевірки
verified = підтверджено
failing = перевірка не проходить
removed = видалено
revoked = відкликано

## The overview: the tenants.

search = Пошук
search-by-name-or-slug = Пошук за назвою або ідентифікатором
status = Статус
any-status = Будь-який статус
filter = Фільтрувати
tenant = Служба
plan = Тариф
usage-against-limits = Використання й ліміти
last-active = Остання активність
never = ніколи
pages = Сторінки
previous = ← Назад
page-of = Сторінка { $page } з { $pages }
next = Далі →
no-tenant-matches = Жодна служба не підходить.
show-all = Показати всі
no-tenants-yet-provision-the-first-one = Служб поки немає: створіть першу нижче.
active = активна
suspended = призупинена
past-due = прострочена
trialing = пробний період
canceled = скасована
unpaid = не оплачена
incomplete = не завершена
incomplete-expired = не завершена, минула
paused = на паузі

## Provisioning a tenant.

provision-a-tenant = Створити службу
the-bot-token-is-checked-with-telegram = Токен бота перевіряється в Telegram, зберігається зашифрованим і більше не показується; вебхук реєструється одразу.
slug = Ідентифікатор
name = Назва
acme-support = Підтримка Acme
bot-token = Токен бота
owner-s-telegram-id = Telegram ID власника
provision = Створити
price-month = { $price }/міс.

## A tenant's page.

suspend = Призупинити…
suspend-name = Призупинити <strong>{ $name }</strong>? Бот відповідатиме клієнтам, що служба на паузі, співробітники не зможуть у ній працювати, а оновлення Telegram і далі зберігатимуться. Нічого не видаляється; відновити можна будь-коли.
yes-suspend = Так, призупинити { $slug }
resume = Відновити
owner-id = власник { $id }
since-date = з { $date }
usage-this-month = Використання цього місяця
plugin-calls-this-month = Виклики плагінів за місяць: { $calls } (обліковуються, але не обмежуються).
subscription = Підписка
none-yet = поки немає
stripe-customer = Клієнт Stripe
unpaid-since = Не оплачено з
grace-ends = пільговий період до { $date }
suspended-2 = Призупинена
by-billing-paying-resumes-it = білінгом: оплата її відновить
last-change = Остання зміна
no-stripe-customer-yet-billing-is-offline = Клієнта Stripe поки немає: білінг вимкнено.
no-stripe-customer-yet-the-owner-subscribes = Клієнта Stripe поки немає: власник оформлює підписку на сторінці оплати в консолі.
usage-over-time-last-90-days = Використання в часі, останні 90 днів
usage-per-day-last-90-days = Використання за днями, останні 90 днів
day = День
nothing-counted-in-the-last-90-days = За останні 90 днів нічого не обліковано.
plan-and-limits = Тариф і ліміти
change-plan = Змінити тариф
this-tenant-pays-through-stripe-its-next = Ця служба платить через Stripe: наступна подія підписки встановить оплачений тариф.
override-limits = Власні ліміти
empty-keeps-the-plans-value = Порожнє поле залишає значення тарифу (його показано сірим); число задає ліміт; <code>unlimited</code> знімає його.
save-limits = Зберегти ліміти
limit-not-a-number = { $limit }: { $value } — не ціле число і не «unlimited»
agents = Агенти
tickets-this-month = Звернення за місяць
messages-this-month = Повідомлення за місяць
plugins = Плагіни
largest-attachment = Найбільше вкладення
attachment-storage = Сховище вкладень
unlimited = без обмежень
bytes = байти
invoices = Рахунки
invoice-2 = Рахунок
date = Дата
due = До сплати
paid = Сплачено
no-invoices-yet = Рахунків поки немає.
payment-failed = платіж не пройшов
draft = чернетка
open = відкритий
paid-2 = сплачений
void = анульований
uncollectible = безнадійний
stripe-events = Події Stripe
when = Коли
event = Подія
what-it-did = Що зроблено
no-stripe-events-about-this-tenant = Подій Stripe про цю службу немає.
operator-actions = Дії оператора
by = Хто
action = Дія
detail = Подробиці
no-operator-action-on-this-tenant-yet = Оператор поки нічого не робив із цією службою.

## What a finished action says.

provisioned-the-bot-s-webhook-is-registered = Службу створено: вебхук бота зареєстровано, служба працює.
suspended-the-desk-s-customers-are-told = Призупинено. Клієнтам служби повідомляють, що вона на паузі; нічого не видалено.
resumed-the-desk-runs-again = Відновлено: служба знову працює.
plan-changed = Тариф змінено.
limits-saved = Ліміти збережено.
domain-revoked-the-desk-no-longer-answers = Домен відкликано: служба на ньому більше не відповідає, власника повідомлено.

## Errors.

something-went-wrong-on-our-side-the = Щось пішло не так на нашому боці; подробиці — в журналі сервера. Нічого не змінено.
the-overview-could-not-be-read = Не вдалося прочитати огляд
the-tenant-could-not-be-read = Не вдалося прочитати службу
no-such-tenant = Немає такої служби
there-is-no-tenant = Служби { $slug } немає.
must-be-a-telegram-user-id-a = має бути Telegram ID користувача (ціле число)
no-such-action = Немає такої дії
the-dashboard-has-no-such-action = На панелі немає такої дії.
refused = Відхилено
too-long = Надто довго
not-accepted = Не прийнято
this-request-came-from-another-site-nothing = Запит надійшов з іншого сайту; нічого не змінено.
the-form-s-security-token-is-missing = Токен безпеки форми відсутній або застарів (сторінку було відкрито задовго?). Нічого не змінено: оновіть сторінку та спробуйте знову.
that-was-longer-than-the-page-takes = Це довше, ніж приймає сторінка; нічого не змінено.
the-form-could-not-be-read = Не вдалося прочитати форму ({ $why }); нічого не змінено. Оновіть сторінку та спробуйте знову.
