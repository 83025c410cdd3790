# The bot's texts in ru (Fluent: https://projectfluent.org/fluent/guide/).
# Each message is one text; its variables are the text's context (see themes/src/language.rs).

## Customers

welcome = { $emoji } Здравствуйте, { $first_name }! Это поддержка { $desk }.

    Напишите вопрос здесь, и наша команда ответит в этом чате. Каждый разговор становится обращением, за которым можно следить.

    Отправьте /help, чтобы узнать, что я умею.

help = { $desk }: что я умею

    /support – новое обращение, по шагам
    /status – ваши открытые обращения
    /tickets – все ваши обращения в приложении
    /help – этот список

    Или просто напишите сообщение: оно откроет обращение или продолжит открытое.

suspended = Поддержка { $desk } сейчас приостановлена. Ваше сообщение не получено; пожалуйста, попробуйте позже.

over_limit = Спасибо, ваше сообщение сохранено. { $desk } сейчас не может открыть новые обращения; мы возьмём ваше в работу, как только сможем.

ticket_opened = Обращение №{ $number } открыто: «{ $title }». Наша команда ответит здесь.

message_added = Добавлено в обращение №{ $number }.

staff_reply = 💬 №{ $number }: { $text }

unsupported = Пока я понимаю только текстовые сообщения. Пожалуйста, опишите вопрос словами.

tickets = Ваши обращения в { $desk }: следите за ними, пишите в них и открывайте новые в приложении.

tickets_link = Ваши обращения в { $desk }: { $url }

status = У вас { $count ->
        [one] { $count } открытое обращение
        [few] { $count } открытых обращения
       *[many] { $count } открытых обращений
    }:

    { $tickets }
    .tickets = №{ $number } { $title } – { $status ->
        [open] открыто
        [in_progress] в работе
        [waiting_response] ждёт вашего ответа
        [resolved] решено
        [closed] закрыто
       *[other] { $status }
    }

status_empty = Открытых обращений нет. Напишите вопрос здесь или отправьте /support, чтобы открыть обращение по шагам.

support_choose = О чём ваш вопрос? Выберите тему:

support_describe = { $category ->
        [none] {""}
       *[other] { $category }.{" "}
    }Опишите проблему одним сообщением, и я открою для неё новое обращение.

support_other = Другое

button_open_ticket = Открыть обращение №{ $number }

button_stale = Эта кнопка больше не действует: на её вопрос уже ответили.

button_open_app = Мои обращения

menu_button = Поддержка

csat_ask = Как мы справились с #{ $number } ({ $title })? Оцените от 1 (плохо) до 5 (отлично).

csat_thanks = Спасибо за оценку #{ $number }: { $rating } из 5! Если хотите, напишите комментарий следующим сообщением или отправьте /skip.

csat_comment_thanks = Спасибо, ваш комментарий передан команде.

csat_skipped = Хорошо. Пишите сюда, когда понадобится помощь.

## Staff

admin_link = Ссылка для входа в консоль { $desk }: сработает один раз в течение 10 минут.
    { $url }

button_open_console = Открыть консоль

notify_new_ticket = Новое обращение #{ $number } от { $customer }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_assigned = Вам назначено обращение #{ $number }{ $by ->
        [none] {""}
       *[other] {" "}({ $by })
    }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_customer_message = { $customer } написал(а) в #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_mention = { $author } упомянул(а) вас в заметке к #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_reminder = ⏰ Напоминание по #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_status = Статус обращения #{ $number } ({ $title }): { $status ->
        [open] открыто
        [in_progress] в работе
        [waiting_response] ждём вашего ответа
        [resolved] решено
        [closed] закрыто
       *[other] { $status }
    }.

button_open_in_console = Открыть в консоли

sla_reminder = ⏰ { $kind ->
        [first_response] Первый ответ
       *[other] Решение
    } по #{ $number } ({ $title }) нужно дать до { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

sla_breach = ⚠️ #{ $number } ({ $title }): { $kind ->
        [first_response] срок первого ответа
       *[other] срок решения
    } истёк в { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

staff_stats = 📊 { $desk } сейчас: открыто { $open }, в работе { $in_progress }, ждут ответа клиента { $waiting }.
    За 7 дней: создано { $created_7d }, решено { $resolved_7d }.
    Первый ответ, медиана (30 дней): { $first_response }.{ $csat ->
        [none] {""}
       *[other] {""}
            CSAT (30 дней): { $csat }.
    }

role_changed = { $ok ->
        [true] @{ $username } теперь { $role }.
       *[other] Не изменено: { $reason }
    }

## The staff group

staff_group = { $outcome ->
        [linked] Эта группа теперь комната сотрудников { $desk }: у каждого нового обращения здесь своя тема с сообщениями клиента. Пишите в теме, чтобы ответить клиенту; начните с /note, чтобы оставить заметку только для сотрудников.
        [unlinked] Эта группа больше не получает обращения.
        [not_forum] Сначала включите темы в группе (настройки группы, «Темы»), сделайте бота администратором с правом управлять темами и отправьте /staffgroup ещё раз.
        [not_admin] Привязать группу сотрудников могут только администраторы и владелец.
       *[other] Эта группа не привязана к службе поддержки.
    }

topic_opened = 🆕 #{ $number } { $title }
    От { $customer }{ $username ->
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
        [true] 📝 Заметка, { $author }
       *[other] ↩️ Ответ, { $author }
    }:
    { $text }

topic_refused = ⚠️ Клиенту не отправлено: { $reason }

topic_command = { $outcome ->
        [resolved] ✅ { $author } решил(а) обращение; клиенту сообщено.
        [assigned] 👤 { $author } передал(а) обращение: { $assignee }.
       *[other] ⚠️ Не сделано: { $reason }
    }

## Broadcasts

broadcast_confirm = Отправить это всем клиентам ({ $count })?

    { $text }

button_broadcast_send = 📣 Отправить ({ $count })

button_broadcast_cancel = Отмена

broadcast_status = { $outcome ->
        [usage] Напишите /broadcast и текст, чтобы отправить его всем клиентам. Перед отправкой вы её подтвердите; /broadcast stop останавливает идущую рассылку.
        [too_long] Рассылка — одно сообщение: не больше { $limit } символов (в этом { $length }).
        [over_limit] Не отправлено: { $reason }.
        [nobody] Бот пока не может написать ни одному клиенту.
        [busy] Рассылка #{ $number } ещё идёт: { $done } из { $total }. Дождитесь отчёта или остановите её: /broadcast stop.
        [started] 📣 Рассылка #{ $number } отправляется { $total } клиентам, около { $minutes } мин. с допустимой скоростью бота. /broadcast покажет ход; в конце придёт отчёт.
        [progress] 📣 Рассылка #{ $number }: { $done } из { $total } ({ $sent } доставлено, { $failed } не доставлено).
        [cancelled] Рассылка отменена, ничего не отправлено.
        [expired] Черновику больше суток; отправьте /broadcast ещё раз.
        [stopped] Рассылка #{ $number } остановлена: не отправлено { $dropped }. Отчёт придёт следом.
       *[other] Сейчас рассылок нет.
    }

broadcast_report = 📣 Рассылка #{ $number } завершена: доставлено { $sent } из { $total }.{ $failed ->
        [0] {""}
       *[other] {""}
            Не доставлено: { $failed } (заблокировали бота, удалили аккаунт или рассылку остановили).
    }{ $unconfirmed ->
        [0] {""}
       *[other] {""}
            Прервано перезапуском во время отправки: { $unconfirmed }. Telegram мог их доставить; повторно они не отправлялись, чтобы никто не получил сообщение дважды.
    }

## The desk's account

claim = { $outcome ->
        [claimed] { $desk } теперь ваша. Ваша ссылка для входа в консоль: она работает один раз, 10 минут.
            { $url }
            Отправьте /admin, когда понадобится новая.
        [taken] У этой службы поддержки уже есть владелец. Чтобы открыть свою, зарегистрируйтесь со своим ботом.
        [expired] Срок этой ссылки истёк. Зарегистрируйтесь ещё раз с тем же токеном бота, чтобы получить новую{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
        [wrong] Эта ссылка не подходит к этому боту. Откройте ссылку со страницы регистрации ещё раз или зарегистрируйтесь заново{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
       *[other] { $desk } ещё настраивается и пока не отвечает.
    }

trial = { $outcome ->
        [ending] Пробный период { $plan } для { $desk } закончится через { $days } { $days ->
            [one] день
            [few] дня
           *[many] дней
        } ({ $date }). Выберите тариф в консоли (ссылку пришлёт /admin), чтобы сохранить его лимиты; иначе служба перейдёт на { $fallback }, и ничего не потеряется.
       *[other] Пробный период { $plan } для { $desk } закончился: теперь служба на тарифе { $fallback }. Сообщения сверх его лимитов сохраняются, пока вы не выберете тариф в консоли (ссылку пришлёт /admin).
    }

domain = { $outcome ->
        [failing] Домен { $domain } службы { $desk } не прошёл сегодняшнюю проверку: TXT-запись { $record } больше не содержит токен службы. Верните её (она есть на странице «Домен» в консоли); ещё { $checks_left } { $checks_left ->
            [one] неудачная ежедневная проверка
            [few] неудачные ежедневные проверки
           *[many] неудачных ежедневных проверок
        }, и служба перестанет отвечать на { $domain }.
        [removed] { $desk } больше не отвечает на { $domain }: TXT-запись { $record } не прошла три ежедневные проверки. Служба работает как прежде по адресу платформы; добавьте домен в консоли снова, чтобы вернуть его.
        [restored] TXT-запись { $record } снова на месте: { $desk } по-прежнему отвечает на { $domain }.
       *[other] Оператор платформы отозвал домен { $domain } службы { $desk }: служба отвечает только по адресу платформы. Если это неожиданно, свяжитесь с оператором.
    }
