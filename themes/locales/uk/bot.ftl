# The bot's texts in uk (Fluent: https://projectfluent.org/fluent/guide/).
# Each message is one text; its variables are the text's context (see themes/src/language.rs).

## Customers

welcome = { $emoji } Вітаємо, { $first_name }! Це підтримка { $desk }.

    Напишіть своє запитання тут, і наша команда відповість у цьому чаті. Кожна розмова стає зверненням, за яким можна стежити.

    Надішліть /help, щоб дізнатися, що я вмію.

help = { $desk }: що я вмію

    /support – нове звернення, крок за кроком
    /status – ваші відкриті звернення
    /tickets – усі ваші звернення в застосунку
    /help – цей список

    Або просто напишіть повідомлення: воно відкриє звернення або продовжить відкрите.

suspended = Підтримку { $desk } зараз призупинено. Ваше повідомлення не отримано; будь ласка, спробуйте пізніше.

over_limit = Дякуємо, ваше повідомлення збережено. { $desk } зараз не може відкривати нові звернення; ми візьмемо ваше в роботу, щойно зможемо.

ticket_opened = Звернення №{ $number } відкрито: «{ $title }». Наша команда відповість тут.

message_added = Додано до звернення №{ $number }.

staff_reply = 💬 №{ $number }: { $text }

unsupported = Поки що я розумію лише текстові повідомлення. Будь ласка, опишіть запит словами.

tickets = Ваші звернення до { $desk }: стежте за ними, пишіть у них і відкривайте нові в застосунку.

tickets_link = Ваші звернення до { $desk }: { $url }

status = У вас { $count ->
        [one] { $count } відкрите звернення
        [few] { $count } відкриті звернення
       *[many] { $count } відкритих звернень
    }:

    { $tickets }
    .tickets = №{ $number } { $title } – { $status ->
        [open] відкрито
        [in_progress] у роботі
        [waiting_response] чекає на вашу відповідь
        [resolved] вирішено
        [closed] закрито
       *[other] { $status }
    }

status_empty = Відкритих звернень немає. Напишіть запитання тут або надішліть /support, щоб відкрити звернення крок за кроком.

support_choose = Про що ваше запитання? Оберіть тему:

support_describe = { $category ->
        [none] {""}
       *[other] { $category }.{" "}
    }Опишіть проблему одним повідомленням, і я відкрию для неї нове звернення.

support_other = Інше

button_open_ticket = Відкрити звернення №{ $number }

button_stale = Ця кнопка більше не діє: на її запитання вже відповіли.

button_open_app = Мої звернення

menu_button = Підтримка

csat_ask = Як ми впоралися зі зверненням #{ $number } ({ $title })? Оцініть від 1 (погано) до 5 (чудово).

csat_thanks = Дякуємо за оцінку #{ $number }: { $rating } з 5! Якщо бажаєте, напишіть коментар наступним повідомленням або надішліть /skip.

csat_comment_thanks = Дякуємо, ваш коментар передано команді.

csat_skipped = Гаразд. Пишіть сюди, коли знадобиться допомога.

## Staff

admin_link = Посилання для входу в консоль { $desk }: спрацює один раз упродовж 10 хвилин.
    { $url }

button_open_console = Відкрити консоль

notify_new_ticket = Нове звернення #{ $number } від { $customer }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_assigned = Вам призначено звернення #{ $number }{ $by ->
        [none] {""}
       *[other] {" "}({ $by })
    }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_customer_message = { $customer } написав(-ла) у #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_mention = { $author } згадав(-ла) вас у нотатці до #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_reminder = ⏰ Нагадування щодо #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_status = Статус звернення #{ $number } ({ $title }): { $status ->
        [open] відкрито
        [in_progress] у роботі
        [waiting_response] чекаємо на вашу відповідь
        [resolved] вирішено
        [closed] закрито
       *[other] { $status }
    }.

button_open_in_console = Відкрити в консолі

sla_reminder = ⏰ { $kind ->
        [first_response] Першу відповідь
       *[other] Рішення
    } щодо #{ $number } ({ $title }) потрібно надати до { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

sla_breach = ⚠️ #{ $number } ({ $title }): { $kind ->
        [first_response] термін першої відповіді
       *[other] термін вирішення
    } (до { $due }) минув.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

staff_stats = 📊 { $desk } зараз: відкрито { $open }, у роботі { $in_progress }, чекають на відповідь клієнта { $waiting }.
    За 7 днів: створено { $created_7d }, вирішено { $resolved_7d }.
    Перша відповідь, медіана (30 днів): { $first_response }.{ $csat ->
        [none] {""}
       *[other] {""}
            CSAT (30 днів): { $csat }.
    }

role_changed = { $ok ->
        [true] @{ $username } тепер { $role }.
       *[other] Не змінено: { $reason }
    }

## The staff group

staff_group = { $outcome ->
        [linked] Ця група тепер кімната співробітників { $desk }: кожне нове звернення отримує тут свою тему з повідомленнями клієнта. Пишіть у темі, щоб відповісти клієнтові; почніть із /note, щоб залишити нотатку лише для співробітників.
        [unlinked] Ця група більше не отримує звернень.
        [not_forum] Спершу увімкніть теми в групі (налаштування групи, «Теми»), зробіть бота адміністратором із правом керувати темами та надішліть /staffgroup ще раз.
        [not_admin] Прив’язати групу співробітників можуть лише адміністратори та власник.
       *[other] Ця група не прив’язана до служби підтримки.
    }

topic_opened = 🆕 #{ $number } { $title }
    Від { $customer }{ $username ->
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
        [true] 📝 Нотатка, { $author }
       *[other] ↩️ Відповідь, { $author }
    }:
    { $text }

topic_refused = ⚠️ Клієнтові не надіслано: { $reason }

topic_command = { $outcome ->
        [resolved] ✅ { $author } вирішив(-ла) звернення; клієнта повідомлено.
        [assigned] 👤 { $author } передав(-ла) звернення: { $assignee }.
       *[other] ⚠️ Не виконано: { $reason }
    }

## Broadcasts

broadcast_confirm = Надіслати це повідомлення { $count } { $count ->
        [one] клієнтові
        [few] клієнтам
        [many] клієнтам
       *[other] клієнта
    }?

    { $text }

button_broadcast_send = 📣 Надіслати ({ $count })

button_broadcast_cancel = Скасувати

broadcast_status = { $outcome ->
        [usage] Напишіть /broadcast і текст, щоб надіслати його всім клієнтам. Перед надсиланням ви його підтвердите; /broadcast stop зупиняє розсилку, що триває.
        [too_long] Розсилка — це одне повідомлення: максимум { $limit } { $limit ->
            [one] символ
            [few] символи
            [many] символів
           *[other] символу
        } (у цьому — { $length }).
        [over_limit] Не надіслано: { $reason }.
        [nobody] Бот поки не може написати жодному клієнтові.
        [busy] Розсилка #{ $number } ще триває: { $done } з { $total }. Дочекайтеся звіту або зупиніть її: /broadcast stop.
        [started] 📣 Розсилка #{ $number } надсилається { $total } { $total ->
            [one] клієнтові
            [few] клієнтам
            [many] клієнтам
           *[other] клієнта
        }, приблизно { $minutes } хв з допустимою швидкістю бота. /broadcast покаже перебіг; наприкінці надійде звіт.
        [progress] 📣 Розсилка #{ $number }: { $done } з { $total } (доставлено { $sent }, не доставлено { $failed }).
        [cancelled] Розсилку скасовано, нічого не надіслано.
        [expired] Цій чернетці понад добу; надішліть /broadcast ще раз.
        [stopped] Розсилку #{ $number } зупинено: { $dropped } { $dropped ->
            [one] повідомлення
            [few] повідомлення
            [many] повідомлень
           *[other] повідомлення
        } не надіслано. Звіт надійде слідом.
       *[other] Зараз розсилок немає.
    }

broadcast_report = 📣 Розсилку #{ $number } завершено: доставлено { $sent } з { $total }.{ $failed ->
        [0] {""}
       *[other] {""}
            Не доставлено: { $failed } (заблокували бота, видалили акаунт або розсилку зупинили).
    }{ $unconfirmed ->
        [0] {""}
       *[other] {""}
            Перервано перезапуском під час надсилання: { $unconfirmed }. Telegram міг їх доставити; повторно їх не надсилали, щоб ніхто не отримав повідомлення двічі.
    }

## The desk's account

claim = { $outcome ->
        [claimed] { $desk } тепер ваша. Ваше посилання для входу в консоль: воно спрацює один раз упродовж 10 хвилин.
            { $url }
            Надішліть /admin, коли знадобиться нове.
        [taken] Ця служба підтримки вже має власника. Щоб відкрити власну, зареєструйтеся зі своїм ботом.
        [expired] Термін дії цього посилання минув. Зареєструйтеся ще раз із тим самим токеном бота, щоб отримати нове{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
        [wrong] Це посилання не підходить для цього бота. Відкрийте посилання зі сторінки реєстрації ще раз або зареєструйтеся знову{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
       *[other] { $desk } ще налаштовується і поки не відповідає.
    }

trial = { $outcome ->
        [ending] Пробний період { $plan } для { $desk } закінчиться через { $days } { $days ->
            [one] день
            [few] дні
            [many] днів
           *[other] дня
        } ({ $date }). Оберіть тариф у консолі (посилання надішле /admin), щоб зберегти його ліміти; інакше служба перейде на { $fallback }, і нічого не втратиться.
       *[other] Пробний період { $plan } для { $desk } закінчився: тепер служба на тарифі { $fallback }. Повідомлення понад його ліміти зберігаються, доки ви не оберете тариф у консолі (посилання надішле /admin).
    }

domain = { $outcome ->
        [failing] Домен { $domain } служби { $desk } не пройшов сьогоднішню перевірку: TXT-запис { $record } більше не містить токена служби. Поверніть його (він є на сторінці «Домен» у консолі); ще { $checks_left } { $checks_left ->
            [one] невдала щоденна перевірка
            [few] невдалі щоденні перевірки
            [many] невдалих щоденних перевірок
           *[other] невдалої щоденної перевірки
        }, і служба перестане відповідати на { $domain }.
        [removed] { $desk } більше не відповідає на { $domain }: TXT-запис { $record } не пройшов три щоденні перевірки. Служба працює як раніше за адресою платформи; додайте домен у консолі знову, щоб повернути його.
        [restored] TXT-запис { $record } знову на місці: { $desk } і далі відповідає на { $domain }.
       *[other] Оператор платформи відкликав домен { $domain } служби { $desk }: служба відповідає лише за адресою платформи. Якщо це неочікувано, зверніться до оператора.
    }
