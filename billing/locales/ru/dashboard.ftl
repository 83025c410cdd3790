# Слова панели оператора по-русски (источник: ../en/dashboard.ftl).

## The frame of every page.

tikethet-operator = оператор TiketHet
skip-to-content = Перейти к содержимому
operator = оператор
main = Главное
overview = Обзор
tenants = Службы
api = API
language = Язык
sign-out = Выйти
billing-is-offline-no-stripe-keys-are = Биллинг отключён: ключи Stripe не настроены. Тарифы назначаются здесь вручную, использование по-прежнему учитывается, но ничего не списывается.
back-to-the-overview = Назад к обзору

## Signing in.

sign-in = Вход
paste-the-operator-token = Вставьте токен оператора (<code>TIKETHET_OPERATOR_TOKEN</code>; <code>tikethet serve</code> вывел его при первом запуске). Вход в этом браузере действует 12 часов.
operator-token = Токен оператора
you-are-signed-out = Вы вышли.
that-is-not-the-operator-token = Это не токен оператора.

## The overview: key figures and revenue.

key-figures = Ключевые показатели
mrr = MRR
arr = ARR
mrr-12 = MRR × 12
paying-tenants = Платящие службы
active-tenants = Активные службы
behind-on-payment = Просрочили оплату
amount-this-month = { $amount } за этот месяц
of-tenants-count =
    { $count ->
        [one] из { $count } службы
        [few] из { $count } служб
       *[many] из { $count } служб
    }
suspended-count =
    { $count ->
        [one] { $count } приостановлена
        [few] { $count } приостановлены
       *[many] { $count } приостановлено
    }
failed-payments-in-30-days =
    { $count ->
        [one] { $count } неудачный платёж за 30 дней
        [few] { $count } неудачных платежа за 30 дней
       *[many] { $count } неудачных платежей за 30 дней
    }
mrr-movements = Движение MRR
subscriptions-that-are-active-or-past-due = Активные и просроченные подписки по цене их тарифа; пробные периоды и учтённое использование в MRR не входят.
mrr-movements-per-month = Движение MRR по месяцам
as-a-table = Таблицей
month = Месяц
new = Новые
won-back = Возвращённые
expansion = Расширение
contraction = Сокращение
churn = Отток
net = Итого
mrr-at-end = MRR на конец
new-2 = новые
won-back-2 = возвращённые
expansion-2 = расширение
contraction-2 = сокращение
churn-2 = отток

## The overview: usage across tenants.

usage-last-30-days = Использование за последние 30 дней
all-tenants-per-day = Все службы, по дням.
read-at = Данные на { $at }.
tenants-could-not-be-read =
    { $count ->
        [one] { $count } службу не удалось прочитать
        [few] { $count } службы не удалось прочитать
       *[many] { $count } служб не удалось прочитать
    }
metered-this-month-reported = Учтено за месяц: сообщений — { $messages }, вызовов плагинов — { $calls }; передано в Stripe и оценено там (не входит в MRR).
metered-this-month-offline = Учтено за месяц: сообщений — { $messages }, вызовов плагинов — { $calls } (биллинг отключён: без оплаты).
usage-per-day-all-tenants = Использование по дням, все службы
active-tenants-per-day = Активные службы по дням
tenants-with-activity-per-day = Службы с активностью по дням
active-tenants-2 = активные службы
messages = сообщения
tickets = обращения
plugin-calls = вызовы плагинов

## The overview: who needs attention.

unpaid-since-suspended = не оплачено с { $since }; приостановлена { $date }
unpaid-since-suspended-unless-paid = не оплачено с { $since }; будет приостановлена { $date }, если не оплатят
every-subscription-is-paid-up = Все подписки оплачены.
failed-payments-30-days = Неудачные платежи за 30 дней
a-customer-of-no-tenant = Клиент Stripe без службы
amount-on-at-attempt = { $amount } от { $at }, попытка { $attempt }
next-try = следующая попытка { $at }
invoice = счёт
no-failed-payments = Неудачных платежей нет.
trials-ending = Заканчиваются пробные периоды
ends-at = заканчивается { $at }
no-trial-ends-in-the-next-days = В ближайшие дни пробные периоды не заканчиваются.

## The overview: signups.

signups = Регистрации
signups-are-off = Регистрация выключена (<code>TIKETHET_SIGNUP=off</code>): службы открываются здесь или через API оператора. Установите <code>open</code> или <code>invite</code> (по кодам, созданным ниже), чтобы компании могли открывать службы на <a href="/signup">/signup</a>.
businesses-open-desks-anyone = Компании открывают службы на <a href="/signup">/signup</a> (любой, у кого есть токен бота). Службу, которую никто не подтвердил за сутки, удаляем.
businesses-open-desks-invitation = Компании открывают службы на <a href="/signup">/signup</a> (по коду приглашения). Службу, которую никто не подтвердил за сутки, удаляем.
started = Начато
claimed = Подтверждено
trialling = На пробном периоде
paying = Платят
expired-unclaimed = Истекли без подтверждения
new-invitation-code-shown-once-copy-it = Новый код приглашения (показывается один раз, скопируйте его сейчас):
invitation-for = Приглашение для
who-it-is-for-optional = Для кого (необязательно)
make-an-invitation-code = Создать код приглашения
invitations = Приглашения
for = Для кого
made = Создано
used = Использовано
not-yet = ещё нет

## The overview: domains.

domains = Домены
desks-own-domains = Собственные домены служб. Служба подтверждает домен записью DNS TXT, прежде чем на него пойдёт трафик и прокси сможет получить сертификат (<code>/tls/ask</code>); подтверждённые домены проверяются ежедневно. Отзыв сразу прекращает маршрутизацию и уведомляет владельца службы.
domain = Домен
desk = Служба
state = Состояние
proven = Подтверждён
last-check = Последняя проверка
routed = (маршрутизируется)
revoke = Отозвать
no-desk-has-its-own-domain-yet = Пока ни у одной службы нет своего домена.
set-by-the-operator = задан оператором
pending = ожидает проверки
verified = подтверждён
failing = проверка не проходит
removed = удалён
revoked = отозван

## The overview: the tenants.

search = Поиск
search-by-name-or-slug = Поиск по названию или идентификатору
status = Статус
any-status = Любой статус
filter = Отфильтровать
tenant = Служба
plan = Тариф
usage-against-limits = Использование и лимиты
last-active = Последняя активность
never = никогда
pages = Страницы
previous = ← Назад
page-of = Страница { $page } из { $pages }
next = Далее →
no-tenant-matches = Ни одна служба не подходит.
show-all = Показать все
no-tenants-yet-provision-the-first-one = Служб пока нет: создайте первую ниже.
active = активна
suspended = приостановлена
past-due = просрочена
trialing = пробный период
canceled = отменена
unpaid = не оплачена
incomplete = не завершена
incomplete-expired = не завершена, истекла
paused = на паузе

## Provisioning a tenant.

provision-a-tenant = Создать службу
the-bot-token-is-checked-with-telegram = Токен бота проверяется в Telegram, хранится в зашифрованном виде и больше не показывается; вебхук регистрируется сразу.
slug = Идентификатор
name = Название
acme-support = Поддержка Acme
bot-token = Токен бота
owner-s-telegram-id = Telegram ID владельца
provision = Создать
price-month = { $price }/мес.

## A tenant's page.

suspend = Приостановить…
suspend-name = Приостановить <strong>{ $name }</strong>? Бот будет отвечать клиентам, что служба на паузе, сотрудники не смогут в ней работать, а обновления Telegram продолжат сохраняться. Ничего не удаляется; возобновить можно в любой момент.
yes-suspend = Да, приостановить { $slug }
resume = Возобновить
owner-id = владелец { $id }
since-date = с { $date }
usage-this-month = Использование в этом месяце
plugin-calls-this-month = Вызовы плагинов за месяц: { $calls } (учитываются, но не ограничиваются).
subscription = Подписка
none-yet = пока нет
stripe-customer = Клиент Stripe
unpaid-since = Не оплачено с
grace-ends = льготный период до { $date }
suspended-2 = Приостановлена
by-billing-paying-resumes-it = биллингом: оплата её возобновит
last-change = Последнее изменение
no-stripe-customer-yet-billing-is-offline = Клиента Stripe пока нет: биллинг отключён.
no-stripe-customer-yet-the-owner-subscribes = Клиента Stripe пока нет: владелец оформляет подписку на странице оплаты в консоли.
usage-over-time-last-90-days = Использование во времени, последние 90 дней
usage-per-day-last-90-days = Использование по дням, последние 90 дней
day = День
nothing-counted-in-the-last-90-days = За последние 90 дней ничего не учтено.
plan-and-limits = Тариф и лимиты
change-plan = Сменить тариф
this-tenant-pays-through-stripe-its-next = Эта служба платит через Stripe: следующее событие подписки установит оплаченный тариф.
override-limits = Свои лимиты
empty-keeps-the-plans-value = Пустое поле оставляет значение тарифа (оно показано серым); число задаёт лимит; <code>unlimited</code> снимает его.
save-limits = Сохранить лимиты
limit-not-a-number = { $limit }: { $value } — не целое число и не «unlimited»
agents = Агенты
tickets-this-month = Обращения за месяц
messages-this-month = Сообщения за месяц
plugins = Плагины
largest-attachment = Самое большое вложение
attachment-storage = Хранилище вложений
unlimited = без ограничений
bytes = байты
invoices = Счета
invoice-2 = Счёт
date = Дата
due = К оплате
paid = Оплачено
no-invoices-yet = Счетов пока нет.
payment-failed = платёж не прошёл
draft = черновик
open = открыт
paid-2 = оплачен
void = аннулирован
uncollectible = безнадёжный
stripe-events = События Stripe
when = Когда
event = Событие
what-it-did = Что сделано
no-stripe-events-about-this-tenant = Событий Stripe об этой службе нет.
operator-actions = Действия оператора
by = Кто
action = Действие
detail = Подробности
no-operator-action-on-this-tenant-yet = Оператор пока ничего не делал с этой службой.

## What a finished action says.

provisioned-the-bot-s-webhook-is-registered = Служба создана: вебхук бота зарегистрирован, служба работает.
suspended-the-desk-s-customers-are-told = Приостановлено. Клиентам службы сообщается, что она на паузе; ничего не удалено.
resumed-the-desk-runs-again = Возобновлено: служба снова работает.
plan-changed = Тариф изменён.
limits-saved = Лимиты сохранены.
domain-revoked-the-desk-no-longer-answers = Домен отозван: служба на нём больше не отвечает, владельцу сообщено.

## Errors.

something-went-wrong-on-our-side-the = Что-то пошло не так на нашей стороне; подробности — в журнале сервера. Ничего не изменено.
the-overview-could-not-be-read = Не удалось прочитать обзор
the-tenant-could-not-be-read = Не удалось прочитать службу
no-such-tenant = Нет такой службы
there-is-no-tenant = Службы { $slug } нет.
must-be-a-telegram-user-id-a = должен быть Telegram ID пользователя (целое число)
no-such-action = Нет такого действия
the-dashboard-has-no-such-action = В панели нет такого действия.
refused = Отклонено
too-long = Слишком длинно
not-accepted = Не принято
this-request-came-from-another-site-nothing = Запрос пришёл с другого сайта; ничего не изменено.
the-form-s-security-token-is-missing = Токен безопасности формы отсутствует или устарел (страница была открыта слишком долго?). Ничего не изменено: обновите страницу и попробуйте снова.
that-was-longer-than-the-page-takes = Это длиннее, чем принимает страница; ничего не изменено.
the-form-could-not-be-read = Не удалось прочитать форму ({ $why }); ничего не изменено. Обновите страницу и попробуйте снова.
