# The bot's texts in es (Fluent: https://projectfluent.org/fluent/guide/).
# Each message is one text; its variables are the text's context (see themes/src/language.rs).

## Customers

welcome = { $emoji } ¡Hola, { $first_name }! Te damos la bienvenida a { $desk }.

    Escribe tu pregunta aquí y nuestro equipo te responderá en este chat. Cada conversación se convierte en un ticket al que puedes dar seguimiento.

    Envía /help para ver lo que puedo hacer.

help = { $desk }: lo que puedo hacer

    /support – abrir un ticket nuevo, paso a paso
    /status – tus tickets abiertos
    /tickets – todos tus tickets en la app
    /help – esta lista

    O simplemente escribe tu mensaje: abre un ticket o continúa el que tienes abierto.

suspended = El soporte de { $desk } está en pausa en este momento. Tu mensaje no se ha recibido; inténtalo de nuevo más tarde.

over_limit = Gracias, tu mensaje se ha guardado. { $desk } no puede abrir nuevas solicitudes en este momento; atenderemos la tuya en cuanto podamos.

ticket_opened = El ticket #{ $number } está abierto: «{ $title }». Nuestro equipo te responderá aquí.

message_added = Añadido al ticket #{ $number }.

staff_reply = 💬 #{ $number }: { $text }

unsupported = Por ahora solo puedo leer mensajes de texto. Por favor, describe tu solicitud con palabras.

tickets = Tus tickets con { $desk }: síguelos, escribe en ellos y abre otros nuevos en la app.

tickets_link = Tus tickets con { $desk } están en { $url }

status = Tienes { $count ->
        [one] { $count } ticket abierto
       *[other] { $count } tickets abiertos
    }:

    { $tickets }
    .tickets = #{ $number } { $title } – { $status ->
        [open] abierto
        [in_progress] en curso
        [waiting_response] esperando tu respuesta
        [resolved] resuelto
        [closed] cerrado
       *[other] { $status }
    }

status_empty = No tienes tickets abiertos. Escribe tu pregunta aquí o envía /support para abrir uno paso a paso.

support_choose = ¿De qué se trata? Elige un tema:

support_describe = { $category ->
        [none] {""}
       *[other] { $category }.{" "}
    }Describe tu problema en un solo mensaje y abriré un ticket nuevo para ello.

support_other = Otro asunto

button_open_ticket = Abrir el ticket #{ $number }

button_stale = Este botón ya no funciona: su pregunta ya se respondió.

button_open_app = Abrir mis tickets

menu_button = Soporte

csat_ask = ¿Qué tal lo hicimos con #{ $number } ({ $title })? Valóranos del 1 (mal) al 5 (excelente).

csat_thanks = ¡Gracias por valorar #{ $number } con un { $rating } de 5! Si quieres, escribe un comentario en tu próximo mensaje o envía /skip.

csat_comment_thanks = Gracias, hemos hecho llegar tu comentario al equipo.

csat_skipped = De acuerdo. Escríbenos aquí siempre que nos necesites.

## Staff

admin_link = Tu enlace de acceso a la consola de { $desk }: funciona una sola vez, durante 10 minutos.
    { $url }

button_open_console = Abrir la consola

notify_new_ticket = Nuevo ticket #{ $number } de { $customer }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_assigned = Te han asignado el ticket #{ $number }{ $by ->
        [none] {""}
       *[other] {" "}(asignado por { $by })
    }: { $title }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_customer_message = { $customer } escribió en #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_mention = { $author } te mencionó en una nota de #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_reminder = ⏰ Recordatorio sobre #{ $number } ({ $title }):
    { $text }{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

notify_status = Tu ticket #{ $number } ({ $title }) ahora está { $status ->
        [open] abierto
        [in_progress] en curso
        [waiting_response] esperando tu respuesta
        [resolved] resuelto
        [closed] cerrado
       *[other] { $status }
    }.

button_open_in_console = Abrir en la consola

sla_reminder = ⏰ { $kind ->
        [first_response] La primera respuesta
       *[other] La resolución
    } de #{ $number } ({ $title }) vence el { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

sla_breach = ⚠️ #{ $number } ({ $title }) incumplió su objetivo de { $kind ->
        [first_response] primera respuesta
       *[other] resolución
    }: vencía el { $due }.{ $link ->
        [none] {""}
       *[other] {""}
            { $link }
    }

staff_stats = 📊 { $desk } ahora: { $open } { $open ->
        [one] abierto
       *[other] abiertos
    }, { $in_progress } en curso, { $waiting } en espera de los clientes.
    Últimos 7 días: { $created_7d } { $created_7d ->
        [one] creado
       *[other] creados
    }, { $resolved_7d } { $resolved_7d ->
        [one] resuelto
       *[other] resueltos
    }.
    Primera respuesta, mediana (30 días): { $first_response }.{ $csat ->
        [none] {""}
       *[other] {""}
            CSAT (30 días): { $csat }.
    }

role_changed = { $ok ->
        [true] @{ $username } ahora es { $role }.
       *[other] Sin cambios: { $reason }
    }

## The staff group

staff_group = { $outcome ->
        [linked] Este grupo es ahora la sala del equipo de { $desk }: cada ticket nuevo tiene aquí un tema con los mensajes del cliente. Escribe en un tema para responder al cliente; empieza con /note para dejar una nota que solo vea el equipo.
        [unlinked] Este grupo ya no recibe tickets.
        [not_forum] Primero activa los temas en este grupo (ajustes del grupo, «Temas»), haz que el bot sea administrador con permiso para gestionar temas y vuelve a enviar /staffgroup.
        [not_admin] Solo los administradores y el propietario del servicio pueden vincular un grupo del equipo.
       *[other] Este grupo no es el grupo del equipo de este servicio.
    }

topic_opened = 🆕 #{ $number } { $title }
    De { $customer }{ $username ->
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
        [true] 📝 Nota de { $author }
       *[other] ↩️ { $author } respondió
    }:
    { $text }

topic_refused = ⚠️ No se envió al cliente: { $reason }

topic_command = { $outcome ->
        [resolved] ✅ Resuelto por { $author }; se ha avisado al cliente.
        [assigned] 👤 { $author } asignó el ticket a { $assignee }.
       *[other] ⚠️ No se hizo: { $reason }
    }

## Broadcasts

broadcast_confirm = ¿Enviar esto a { $count } { $count ->
        [one] cliente
       *[other] clientes
    }?

    { $text }

button_broadcast_send = 📣 Enviar a { $count }

button_broadcast_cancel = Cancelar

broadcast_status = { $outcome ->
        [usage] Escribe /broadcast seguido del mensaje que quieres enviar a todos los clientes. Lo confirmarás antes de que salga; /broadcast stop detiene una difusión en curso.
        [too_long] Una difusión es un solo mensaje: como máximo { $limit } { $limit ->
            [one] carácter
           *[other] caracteres
        } (este tiene { $length }).
        [over_limit] No enviado: { $reason }.
        [nobody] Todavía no se puede llegar a ningún cliente a través del bot.
        [busy] La difusión #{ $number } aún se está enviando: van { $done } de { $total }. Espera su informe o detenla con /broadcast stop.
        [started] 📣 La difusión #{ $number } se está enviando a { $total } { $total ->
            [one] cliente
           *[other] clientes
        }, unos { $minutes } min al ritmo del bot. Envía /broadcast para ver su progreso; el informe llegará al final.
        [progress] 📣 Difusión #{ $number }: van { $done } de { $total } ({ $sent } { $sent ->
            [one] entregado
           *[other] entregados
        }, { $failed } sin entregar).
        [cancelled] Difusión cancelada; no se envió nada.
        [expired] Este borrador tiene más de un día; vuelve a enviar /broadcast.
        [stopped] Difusión #{ $number } detenida: { $dropped } { $dropped ->
            [one] mensaje sin enviar
           *[other] mensajes sin enviar
        }. A continuación llega el informe.
       *[other] No hay ninguna difusión en curso.
    }

broadcast_report = 📣 Difusión #{ $number } terminada: { $sent ->
        [one] se entregó
       *[other] se entregaron
    } { $sent } de { $total }.{ $failed ->
        [0] {""}
       *[other] {""}
            { $failed } sin entregar (bloquearon el bot, eliminaron su cuenta o se detuvo la difusión).
    }{ $unconfirmed ->
        [0] {""}
        [one] {""}
            { $unconfirmed } interrumpido por un reinicio durante el envío: puede que Telegram lo haya entregado; no se volvió a enviar, así que nadie lo recibió dos veces.
       *[other] {""}
            { $unconfirmed } interrumpidos por un reinicio durante el envío: puede que Telegram los haya entregado; no se volvieron a enviar, así que nadie lo recibió dos veces.
    }

## The desk's account

claim = { $outcome ->
        [claimed] { $desk } ya es tuyo. Este es tu enlace de acceso a la consola: funciona una sola vez, durante 10 minutos.
            { $url }
            Envía /admin cuando necesites uno nuevo.
        [taken] Este servicio ya tiene propietario. Para abrir uno propio, regístrate con tu propio bot.
        [expired] Este enlace de reclamación ha caducado. Vuelve a registrarte con el mismo token del bot para obtener uno nuevo{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
        [wrong] Este enlace de reclamación no es válido para este bot. Vuelve a abrir el enlace desde la página de registro o regístrate de nuevo{ $signup ->
            [none] {""}
           *[other] : { $signup }
        }.
       *[other] { $desk } se está configurando y todavía no responde.
    }

trial = { $outcome ->
        [ending] La prueba del plan { $plan } de { $desk } termina dentro de { $days } { $days ->
            [one] día
           *[other] días
        } ({ $date }). Elige un plan en la consola (envía /admin para obtener un enlace) para mantener sus límites; si no, el servicio pasará a { $fallback } y no se perderá nada.
       *[other] La prueba del plan { $plan } de { $desk } ha terminado: el servicio está ahora en { $fallback }. Los mensajes que superen sus límites se guardan hasta que elijas un plan en la consola (envía /admin para obtener un enlace).
    }

domain = { $outcome ->
        [failing] El dominio { $domain } de { $desk } no superó la comprobación de hoy: su registro TXT { $record } ya no contiene el token del servicio. Vuelve a añadirlo (aparece en la página «Dominio» de la consola); si { $checks_left ->
            [one] falla { $checks_left } comprobación diaria más
           *[other] fallan { $checks_left } comprobaciones diarias más
        }, el servicio dejará de responder en { $domain }.
        [removed] { $desk } ya no responde en { $domain }: su registro TXT { $record } falló tres comprobaciones diarias. El servicio funciona como antes en la dirección de la plataforma; vuelve a añadir el dominio en la consola para recuperarlo.
        [restored] El registro TXT { $record } vuelve a ser correcto: { $desk } sigue respondiendo en { $domain }.
       *[other] El operador de la plataforma revocó el dominio { $domain } de { $desk }: el servicio solo responde en la dirección de la plataforma. Consulta al operador si no lo esperabas.
    }
