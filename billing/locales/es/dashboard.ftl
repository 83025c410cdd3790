# Las palabras del panel del operador en español (fuente: ../en/dashboard.ftl).

## The frame of every page.

tikethet-operator = operador de TiketHet
skip-to-content = Saltar al contenido
operator = operador
main = Principal
overview = Resumen
tenants = Servicios
api = API
language = Idioma
sign-out = Cerrar sesión
billing-is-offline-no-stripe-keys-are = La facturación está desconectada: no hay claves de Stripe configuradas. Los planes se asignan aquí a mano, el uso se sigue midiendo y no se cobra nada.
back-to-the-overview = Volver al resumen

## Signing in.

sign-in = Iniciar sesión
paste-the-operator-token = Pega el token del operador (<code>TIKETHET_OPERATOR_TOKEN</code>; <code>tikethet serve</code> lo mostró en su primer arranque). Tu sesión en este navegador dura 12 horas.
operator-token = Token del operador
you-are-signed-out = Has cerrado la sesión.
that-is-not-the-operator-token = Ese no es el token del operador.

## The overview: key figures and revenue.

key-figures = Cifras clave
mrr = MRR
arr = ARR
mrr-12 = MRR × 12
paying-tenants = Servicios de pago
active-tenants = Servicios activos
behind-on-payment = Con pagos atrasados
amount-this-month = { $amount } este mes
of-tenants-count =
    { $count ->
        [one] de { $count } servicio
       *[other] de { $count } servicios
    }
suspended-count =
    { $count ->
        [one] { $count } suspendido
       *[other] { $count } suspendidos
    }
failed-payments-in-30-days =
    { $count ->
        [one] { $count } pago fallido en 30 días
       *[other] { $count } pagos fallidos en 30 días
    }
mrr-movements = Movimientos del MRR
subscriptions-that-are-active-or-past-due = Suscripciones activas o con pago vencido, al precio de su plan; las pruebas y el uso medido no cuentan en el MRR.
mrr-movements-per-month = Movimientos del MRR por mes
as-a-table = Como tabla
month = Mes
new = Nuevos
won-back = Recuperados
expansion = Expansión
contraction = Contracción
churn = Bajas
net = Neto
mrr-at-end = MRR al final
new-2 = nuevos
won-back-2 = recuperados
expansion-2 = expansión
contraction-2 = contracción
churn-2 = bajas

## The overview: usage across tenants.

usage-last-30-days = Uso, últimos 30 días
all-tenants-per-day = Todos los servicios, por día.
read-at = Leído el { $at }.
tenants-could-not-be-read =
    { $count ->
        [one] no se pudo leer { $count } servicio
       *[other] no se pudieron leer { $count } servicios
    }
metered-this-month-reported = Medido este mes: { $messages } mensajes y { $calls } llamadas a plugins, enviados a Stripe y cobrados allí (fuera del MRR).
metered-this-month-offline = Medido este mes: { $messages } mensajes y { $calls } llamadas a plugins (sin facturación: no se cobra).
usage-per-day-all-tenants = Uso por día, todos los servicios
active-tenants-per-day = Servicios activos por día
tenants-with-activity-per-day = Servicios con actividad por día
active-tenants-2 = servicios activos
messages = mensajes
tickets = tickets
plugin-calls = llamadas a plugins

## The overview: who needs attention.

unpaid-since-suspended = sin pagar desde { $since }; suspendido el { $date }
unpaid-since-suspended-unless-paid = sin pagar desde { $since }; se suspende el { $date } si no paga
every-subscription-is-paid-up = Todas las suscripciones están al día.
failed-payments-30-days = Pagos fallidos, 30 días
a-customer-of-no-tenant = Un cliente de Stripe sin servicio
amount-on-at-attempt = { $amount } el { $at }, intento { $attempt }
next-try = próximo intento { $at }
invoice = factura
no-failed-payments = No hay pagos fallidos.
trials-ending = Pruebas que terminan
ends-at = termina el { $at }
no-trial-ends-in-the-next-days = Ninguna prueba termina en los próximos días.

## The overview: signups.

signups = Registros
signups-are-off = Los registros están desactivados (<code>TIKETHET_SIGNUP=off</code>): los servicios se abren aquí o con la API del operador. Ponlo en <code>open</code>, o en <code>invite</code> para usar los códigos que crees abajo, y las empresas podrán abrir servicios en <a href="/signup">/signup</a>.
businesses-open-desks-anyone = Las empresas abren servicios en <a href="/signup">/signup</a> (cualquiera con un token de bot). Un servicio que nadie reclama en un día se elimina.
businesses-open-desks-invitation = Las empresas abren servicios en <a href="/signup">/signup</a> (con un código de invitación). Un servicio que nadie reclama en un día se elimina.
started = Iniciados
claimed = Reclamados
trialling = En prueba
paying = De pago
expired-unclaimed = Caducados sin reclamar
new-invitation-code-shown-once-copy-it = Nuevo código de invitación (se muestra una sola vez; cópialo ahora):
invitation-for = Invitación para
who-it-is-for-optional = Para quién es (opcional)
make-an-invitation-code = Crear un código de invitación
invitations = Invitaciones
for = Para
made = Creada
used = Usada
not-yet = aún no

## The overview: domains.

domains = Dominios
desks-own-domains = Dominios propios de los servicios. Un servicio demuestra que es suyo con un registro DNS TXT antes de que se enrute y el proxy pueda obtener su certificado (<code>/tls/ask</code>); los dominios verificados se comprueban a diario. Revocar detiene el enrutamiento al instante y avisa al propietario del servicio.
domain = Dominio
desk = Servicio
state = Estado
proven = Verificado
last-check = Última comprobación
routed = (enrutado)
revoke = Revocar
no-desk-has-its-own-domain-yet = Ningún servicio tiene aún dominio propio.
set-by-the-operator = puesto por el operador
pending = pendiente
verified = verificado
failing = con fallos
removed = eliminado
revoked = revocado

## The overview: the tenants.

search = Buscar
search-by-name-or-slug = Buscar por nombre o identificador
status = Estado
any-status = Cualquier estado
filter = Filtrar
tenant = Servicio
plan = Plan
usage-against-limits = Uso frente a límites
last-active = Última actividad
never = nunca
pages = Páginas
previous = ← Anterior
page-of = Página { $page } de { $pages }
next = Siguiente →
no-tenant-matches = Ningún servicio coincide.
show-all = Mostrar todos
no-tenants-yet-provision-the-first-one = Aún no hay servicios: crea el primero abajo.
active = activo
suspended = suspendido
past-due = pago vencido
trialing = en prueba
canceled = cancelado
unpaid = impagado
incomplete = incompleto
incomplete-expired = incompleto caducado
paused = en pausa

## Provisioning a tenant.

provision-a-tenant = Crear un servicio
the-bot-token-is-checked-with-telegram = El token del bot se comprueba con Telegram, se guarda cifrado y no se vuelve a mostrar; el webhook se registra al momento.
slug = Identificador
name = Nombre
acme-support = Soporte de Acme
bot-token = Token del bot
owner-s-telegram-id = ID de Telegram del propietario
provision = Crear
price-month = { $price }/mes

## A tenant's page.

suspend = Suspender…
suspend-name = ¿Suspender <strong>{ $name }</strong>? Su bot responde a los clientes que el servicio está en pausa, el equipo no puede trabajar en él y las actualizaciones de Telegram se siguen guardando. No se borra nada; puedes reanudarlo cuando quieras.
yes-suspend = Sí, suspender { $slug }
resume = Reanudar
owner-id = propietario { $id }
since-date = desde { $date }
usage-this-month = Uso este mes
plugin-calls-this-month = Llamadas a plugins este mes: { $calls } (se miden, no se limitan).
subscription = Suscripción
none-yet = aún no
stripe-customer = Cliente de Stripe
unpaid-since = Sin pagar desde
grace-ends = el periodo de gracia termina el { $date }
suspended-2 = Suspendido
by-billing-paying-resumes-it = por la facturación: al pagar se reanuda
last-change = Último cambio
no-stripe-customer-yet-billing-is-offline = Aún no hay cliente de Stripe: la facturación está desconectada.
no-stripe-customer-yet-the-owner-subscribes = Aún no hay cliente de Stripe: el propietario se suscribe desde la página de facturación de la consola.
usage-over-time-last-90-days = Uso a lo largo del tiempo, últimos 90 días
usage-per-day-last-90-days = Uso por día, últimos 90 días
day = Día
nothing-counted-in-the-last-90-days = No se contó nada en los últimos 90 días.
plan-and-limits = Plan y límites
change-plan = Cambiar de plan
this-tenant-pays-through-stripe-its-next = Este servicio paga con Stripe: el próximo evento de su suscripción pondrá el plan que pagó.
override-limits = Ajustar límites
empty-keeps-the-plans-value = Vacío mantiene el valor del plan (en gris); un número lo fija; <code>unlimited</code> lo quita.
save-limits = Guardar límites
limit-not-a-number = { $limit }: { $value } no es un número entero ni "unlimited"
agents = Agentes
tickets-this-month = Tickets este mes
messages-this-month = Mensajes este mes
plugins = Plugins
largest-attachment = Adjunto más grande
attachment-storage = Almacenamiento de adjuntos
unlimited = ilimitado
bytes = bytes
invoices = Facturas
invoice-2 = Factura
date = Fecha
due = A pagar
paid = Pagado
no-invoices-yet = Aún no hay facturas.
payment-failed = pago fallido
draft = borrador
open = abierta
paid-2 = pagada
void = anulada
uncollectible = incobrable
stripe-events = Eventos de Stripe
when = Cuándo
event = Evento
what-it-did = Qué hizo
no-stripe-events-about-this-tenant = No hay eventos de Stripe sobre este servicio.
operator-actions = Acciones del operador
by = Quién
action = Acción
detail = Detalle
no-operator-action-on-this-tenant-yet = Aún no hay acciones del operador sobre este servicio.

## What a finished action says.

provisioned-the-bot-s-webhook-is-registered = Servicio creado: el webhook del bot está registrado y el servicio ya funciona.
suspended-the-desk-s-customers-are-told = Suspendido. A los clientes del servicio se les dice que está en pausa; no se borra nada.
resumed-the-desk-runs-again = Reanudado: el servicio vuelve a funcionar.
plan-changed = Plan cambiado.
limits-saved = Límites guardados.
domain-revoked-the-desk-no-longer-answers = Dominio revocado: el servicio ya no responde en él y se avisó a su propietario.

## Errors.

something-went-wrong-on-our-side-the = Algo falló de nuestro lado; el registro del servidor dice qué. No se cambió nada.
the-overview-could-not-be-read = No se pudo leer el resumen
the-tenant-could-not-be-read = No se pudo leer el servicio
no-such-tenant = No existe ese servicio
there-is-no-tenant = No hay ningún servicio { $slug }.
must-be-a-telegram-user-id-a = debe ser un ID de usuario de Telegram (un número entero)
no-such-action = No existe esa acción
the-dashboard-has-no-such-action = El panel no tiene esa acción.
refused = Rechazado
too-long = Demasiado largo
not-accepted = No aceptado
this-request-came-from-another-site-nothing = Esta petición vino de otro sitio; no se cambió nada.
the-form-s-security-token-is-missing = Falta el token de seguridad del formulario o está caducado (¿una página abierta demasiado tiempo?). No se cambió nada: recarga la página y vuelve a intentarlo.
that-was-longer-than-the-page-takes = Eso es más largo de lo que admite la página; no se cambió nada.
the-form-could-not-be-read = No se pudo leer el formulario ({ $why }); no se cambió nada. Recarga la página y vuelve a intentarlo.
