"""Seeded synthetic customer-service data: the training set of the bundled models.

Two generators, both pure functions of `(n, seed)` (the same arguments always give the
same data, on any machine), reused by `infra.training.train_models`, the demo and benchmarks.

`ticket_messages(n, seed)`
    Customer messages in English and Spanish (about half each), each with the queue
    it should be routed to: billing, technical_support, shipping, account,
    cancellation or refunds. Messages are built from varied templates and slot
    fillers (amounts, products, order numbers, dates, devices, carriers), polite
    openers and closers, context sentences that borrow other queues' vocabulary, a
    second issue mentioned in passing, typos, dropped accents and lower-casing, and a
    few vague messages ("I need to speak to a person") whose queue is a coin toss. As
    in live traffic after the redaction step, personal data appears only as the
    placeholders ``[EMAIL]``, ``[PHONE]`` and ``[NAME]``. A bag-of-words model reaches
    roughly 90% held-out accuracy, not 100%.

`refund_requests(n, seed)`
    Refund requests with twelve model inputs, two fairness segments (never model
    inputs) and the historical decision ("approve"/"deny").

Planted bias (the fairness report must find it)
-----------------------------------------------
The historical labels follow a plausible business rule with noise: refunds for lost
or damaged deliveries are approved, damaged/wrong items are favoured over "changed
my mind", long waits since delivery and many prior refunds or complaints lead to a
denial, members and long-standing customers are favoured, expensive orders are
checked more strictly.

On top of that rule, requests handled by phone and orders paid cash on delivery were
approved much less often (the phone team and the cash-on-delivery desk were stricter:
each removes 2.2 from the approval log-odds). Neither attribute is about
merit, but both are strongly tied to age: customers aged 65+ contact us by phone about
half of the time (5-15% for younger customers) and pay cash on delivery about 45% of
the time (8-10% for younger customers). Age is never a model input, yet a model
trained on these labels learns `channel` and `payment_method` as proxies: on fresh
requests from this generator its approval rate for the 65+ band is roughly 0.6 times
that of the most-approved band (well under the four-fifths rule's 0.8), while overall
approval stays around 60-65%. Gender is drawn independently of everything and carries
no bias (a control for the report).
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------
# Ticket messages
# --------------------------------------------------------------------------------------

QUEUES: tuple[str, ...] = ("billing", "technical_support", "shipping", "account", "cancellation", "refunds")
LANGUAGES: tuple[str, ...] = ("en", "es")

_QUEUE_WEIGHTS = (0.20, 0.19, 0.19, 0.15, 0.12, 0.15)

_TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "billing": [
            "I was charged twice this month",
            "I was charged twice for {order}",
            "Why was I billed {amount} when my plan costs {amount2}?",
            "There is a charge of {amount} on my card that I don't recognise",
            "My invoice for {month} is wrong, it shows {amount}",
            "Can you send me the invoice for {order}? I need it for my company",
            "My payment of {amount} was declined but the money left my bank account",
            "I'd like to update my credit card details for billing",
            "You charged me {amount} after the free trial, nobody told me it wasn't free",
            "The price went up to {amount} without any notice",
            "I paid by bank transfer on {date} but the invoice still says unpaid",
            "How do I get a VAT invoice for my purchase?",
            "My direct debit failed, can I pay the balance another way?",
            "The discount code wasn't applied and I paid full price, {amount}",
            "I see two payments of {amount} on my statement for the same order",
        ],
        "technical_support": [
            "The app keeps crashing on my {device}",
            "My {product} won't turn on anymore",
            "I get error code {errcode} when I open the app",
            "The {product} doesn't connect to wifi since the last update",
            "The website shows a blank page when I try to pay",
            "Bluetooth pairing with my {device} fails every time",
            "After the update my {product} is really slow",
            "The screen of my {product} flickers",
            "The app on my {device} won't load my orders",
            "How do I reset my {product} to factory settings?",
            "The battery of my {product} drains in two hours",
            "Notifications are not working on my {device}",
            "I cannot install the firmware update, it stops at {pct}%",
            "The {product} makes a strange noise and then switches off",
        ],
        "shipping": [
            "My parcel still hasn't arrived",
            "Where is my {order}? It's been {days} days",
            "The tracking for {order} hasn't updated since {date}",
            "{carrier} says it was delivered but I never received anything",
            "Can I change the delivery address for {order}?",
            "The courier left my package with a neighbour and I don't know which one",
            "My order was sent to the wrong address",
            "When will {order} be shipped? It says processing",
            "Only part of my order arrived, the {product} is missing",
            "Can you deliver on Saturday? I'm not home during the week",
            "The box arrived damaged, the {product} inside seems fine",
            "I need the tracking number for my order",
            "Delivery was supposed to be on {date} and nothing came",
            "{carrier} tried to deliver while I was out, how do I rebook?",
        ],
        "account": [
            "I can't log in to my account",
            "I forgot my password and the reset email never arrives",
            "Please change the email on my account to [EMAIL]",
            "My account has been locked after too many attempts",
            "I want to update my phone number to [PHONE]",
            "Someone else logged into my account, I think I was hacked",
            "The two-factor code never arrives on my phone",
            "How do I delete my personal data from your system?",
            "I have two accounts and want to merge them",
            "I cannot change my address in my profile",
            "My name is misspelled on my account, it should be [NAME]",
            "The verification link says it has expired",
            "I can't sign in on my {device}, it says wrong password",
        ],
        "cancellation": [
            "I want to cancel my subscription",
            "Please cancel my {plan} plan at the end of this month",
            "How do I stop the automatic renewal?",
            "Cancel {order}, I ordered it by mistake",
            "I'm moving abroad and need to end my contract",
            "I don't use the service anymore, please close my membership",
            "Cancel my membership before the next payment on {date}",
            "I'd like to terminate my contract, what is the notice period?",
            "Stop my subscription, it's too expensive for me now",
            "Can I cancel the order before it ships?",
            "Unsubscribe me from the premium plan",
            "I want to cancel the {plan} plan and keep only the basic one",
        ],
        "refunds": [
            "I returned the {product} {days} days ago and still have no refund",
            "I want my money back for {order}",
            "The {product} arrived broken, I want a refund",
            "When will I get the refund of {amount}?",
            "I sent the item back on {date}, where is my refund?",
            "The {product} is not as described, I'd like to return it for a refund",
            "Can I return the {product} if I opened the box?",
            "You promised a refund of {amount} but I only received part of it",
            "I received the wrong item and want my money back",
            "How long does a refund take to reach my card?",
            "Please refund the delivery fee, the parcel came a week late",
            "I'd like to return my order and get a full refund",
        ],
    },
    "es": {
        "billing": [
            "Me cobraron dos veces este mes",
            "Me han cobrado dos veces el {order}",
            "¿Por qué me cobraron {amount} si mi plan cuesta {amount2}?",
            "Hay un cargo de {amount} en mi tarjeta que no reconozco",
            "La factura de {month} está mal, aparece un importe de {amount}",
            "¿Me pueden enviar la factura del {order}? La necesito para la empresa",
            "El pago de {amount} fue rechazado pero el dinero salió de mi cuenta bancaria",
            "Quiero actualizar los datos de mi tarjeta para los cobros",
            "Me cobraron {amount} después de la prueba gratuita y nadie me avisó",
            "El precio subió a {amount} sin ningún aviso",
            "Pagué por transferencia el {date} pero la factura sigue como pendiente",
            "¿Cómo consigo una factura con IVA de mi compra?",
            "Falló la domiciliación, ¿puedo pagar el saldo de otra forma?",
            "No se aplicó el código de descuento y pagué el precio completo, {amount}",
            "Veo dos cargos de {amount} en el extracto por el mismo pedido",
        ],
        "technical_support": [
            "La aplicación se cierra sola en mi {device}",
            "Mi {product} ya no enciende",
            "Me sale el código de error {errcode} al abrir la app",
            "El {product} no se conecta al wifi desde la última actualización",
            "La web se queda en blanco cuando intento pagar",
            "No consigo emparejar por bluetooth con mi {device}",
            "Después de la actualización mi {product} va muy lento",
            "La pantalla de mi {product} parpadea",
            "La app en mi {device} no carga mis pedidos",
            "¿Cómo restablezco mi {product} a los valores de fábrica?",
            "La batería de mi {product} dura dos horas",
            "No me llegan las notificaciones en el {device}",
            "No puedo instalar la actualización del firmware, se queda en el {pct}%",
            "El {product} hace un ruido raro y luego se apaga",
        ],
        "shipping": [
            "Mi paquete todavía no ha llegado",
            "¿Dónde está mi {order}? Ya van {days} días",
            "El seguimiento del {order} no se actualiza desde el {date}",
            "{carrier} dice que fue entregado pero no he recibido nada",
            "¿Puedo cambiar la dirección de entrega del {order}?",
            "El repartidor dejó el paquete a un vecino y no sé a cuál",
            "Mi pedido se envió a una dirección equivocada",
            "¿Cuándo se envía el {order}? Pone que está en preparación",
            "Solo llegó parte del pedido, falta el {product}",
            "¿Pueden entregar el sábado? Entre semana no estoy en casa",
            "La caja llegó dañada, el {product} de dentro parece bien",
            "Necesito el número de seguimiento de mi pedido",
            "La entrega era el {date} y no ha llegado nada",
            "{carrier} intentó entregar cuando no estaba, ¿cómo lo vuelvo a programar?",
        ],
        "account": [
            "No puedo iniciar sesión en mi cuenta",
            "Olvidé mi contraseña y no me llega el correo para restablecerla",
            "Cambien el correo de mi cuenta a [EMAIL], por favor",
            "Mi cuenta está bloqueada por demasiados intentos",
            "Quiero actualizar mi número de teléfono a [PHONE]",
            "Alguien ha entrado en mi cuenta, creo que me la han hackeado",
            "No me llega el código de verificación en dos pasos al móvil",
            "¿Cómo borro mis datos personales de su sistema?",
            "Tengo dos cuentas y quiero unirlas",
            "No puedo cambiar mi dirección en el perfil",
            "Mi nombre está mal escrito en la cuenta, debería ser [NAME]",
            "El enlace de verificación dice que ha caducado",
            "No puedo entrar desde mi {device}, dice que la contraseña es incorrecta",
        ],
        "cancellation": [
            "Quiero cancelar mi suscripción",
            "Cancelen mi plan {plan} a final de este mes, por favor",
            "¿Cómo desactivo la renovación automática?",
            "Anulen el {order}, lo pedí por error",
            "Me mudo al extranjero y necesito dar de baja el contrato",
            "Ya no uso el servicio, quiero darme de baja",
            "Cancelen mi membresía antes del próximo cobro del {date}",
            "Quiero rescindir mi contrato, ¿cuál es el plazo de preaviso?",
            "Den de baja mi suscripción, ahora es demasiado cara para mí",
            "¿Puedo cancelar el pedido antes de que se envíe?",
            "Quiero darme de baja del plan premium",
            "Quiero cancelar el plan {plan} y quedarme solo con el básico",
        ],
        "refunds": [
            "Devolví el {product} hace {days} días y sigo sin reembolso",
            "Quiero que me devuelvan el dinero del {order}",
            "El {product} llegó roto, quiero un reembolso",
            "¿Cuándo recibiré el reembolso de {amount}?",
            "Envié el artículo de vuelta el {date}, ¿dónde está mi reembolso?",
            "El {product} no es como se describía, quiero devolverlo",
            "¿Puedo devolver el {product} si ya abrí la caja?",
            "Me prometieron un reembolso de {amount} pero solo recibí una parte",
            "Me llegó un artículo equivocado y quiero mi dinero",
            "¿Cuánto tarda el reembolso en llegar a mi tarjeta?",
            "Reembolsen los gastos de envío, el paquete llegó con una semana de retraso",
            "Quiero devolver mi pedido y que me reembolsen todo",
        ],
    },
}

# Vague messages: nothing in them says which queue they belong to (label drawn at random).
_VAGUE: dict[str, list[str]] = {
    "en": [
        "I have a problem with {order}, please call me at [PHONE]",
        "Nobody answered my last email, I need help",
        "Please contact me about my order",
        "I need to speak to a person",
        "Is anyone there? I wrote yesterday and got no answer",
        "Hello, I have a question about {order}",
    ],
    "es": [
        "Tengo un problema con el {order}, llámenme al [PHONE]",
        "Nadie respondió a mi último correo, necesito ayuda",
        "Contacten conmigo sobre mi pedido, por favor",
        "Necesito hablar con una persona",
        "¿Hay alguien? Escribí ayer y nadie me contestó",
        "Hola, tengo una duda sobre el {order}",
    ],
}

# Context sentences: vocabulary shared by every queue.
_CONTEXT: dict[str, list[str]] = {
    "en": [
        "I ordered it on {date}.",
        "My order number is {order}.",
        "I paid {amount} for it.",
        "I use the app on my {device}.",
        "I already called you twice.",
        "I've tried logging out and in again.",
        "This is the second time this happens.",
        "My account email is [EMAIL].",
        "It was a gift for my daughter.",
        "I bought the {product} last month.",
    ],
    "es": [
        "Lo pedí el {date}.",
        "Mi número de pedido es {order}.",
        "Pagué {amount} por él.",
        "Uso la app en mi {device}.",
        "Ya les llamé dos veces.",
        "Ya probé a cerrar sesión y volver a entrar.",
        "Es la segunda vez que pasa.",
        "El correo de mi cuenta es [EMAIL].",
        "Era un regalo para mi hija.",
        "Compré el {product} el mes pasado.",
    ],
}

_OPENERS = {
    "en": ["Hi,", "Hello,", "Good morning,", "Hi there,", "Dear support team,", "Hey,", "Hello, my name is [NAME]."],
    "es": ["Hola,", "Buenos días,", "Buenas tardes,", "Hola, soy [NAME].", "Estimado equipo de atención al cliente:"],
}
_CLOSERS = {
    "en": [
        "Thanks.",
        "Thank you!",
        "Please help.",
        "Regards, [NAME]",
        "You can reach me at [PHONE].",
        "My email is [EMAIL].",
        "This is urgent.",
        "I've been a customer for years.",
        "Thanks in advance",
    ],
    "es": [
        "Gracias.",
        "¡Gracias!",
        "Por favor, ayúdenme.",
        "Saludos, [NAME]",
        "Mi teléfono es [PHONE].",
        "Mi correo es [EMAIL].",
        "Es urgente.",
        "Soy cliente desde hace años.",
        "Un saludo",
    ],
}
_SECOND_ISSUE = {"en": ["Also,", "And another thing:", "By the way,"], "es": ["Además,", "Y otra cosa:", "Por cierto,"]}

_PRODUCTS = {
    "en": [
        "headphones",
        "smart watch",
        "coffee machine",
        "vacuum cleaner",
        "router",
        "tablet",
        "speaker",
        "e-reader",
        "blender",
        "hair dryer",
        "keyboard",
        "winter jacket",
    ],
    "es": [
        "reloj inteligente",
        "router",
        "altavoz",
        "robot aspirador",
        "portátil",
        "televisor",
        "microondas",
        "abrigo",
        "secador de pelo",
        "teclado",
        "ratón inalámbrico",
        "libro electrónico",
    ],
}
_DEVICES = {
    "en": ["iPhone", "Android phone", "Samsung Galaxy", "iPad", "laptop", "Windows PC", "Mac", "smart TV"],
    "es": ["iPhone", "móvil Android", "Samsung Galaxy", "iPad", "portátil", "PC con Windows", "Mac", "smart TV"],
}
_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre"],
}
_CARRIERS = ["DHL", "UPS", "SEUR", "Correos", "GLS", "DPD", "MRW"]
_PLANS = ["Premium", "Family", "Pro", "Plus"]


def _slots(rng: random.Random, lang: str) -> dict[str, str]:
    number = rng.randint(10000, 99999)
    if lang == "en":
        order = rng.choice([f"order #{number}", f"order {number}", f"order no. {number}", f"order #{number}"])
    else:
        order = rng.choice([f"pedido #{number}", f"pedido nº {number}", f"pedido {number}", f"pedido #{number}"])

    def amount() -> str:
        value = rng.choice([rng.randint(5, 300) + rng.choice([0.0, 0.99, 0.5, 0.95]), float(rng.randint(1, 30) * 10)])
        text = f"{value:.2f}"
        if lang == "en":
            return rng.choice([f"€{text}", f"{text} EUR", f"€{text}"])
        text = text.replace(".", ",")
        return rng.choice([f"{text} €", f"{text} euros", f"{text}€"])

    month_index = rng.randrange(len(_MONTHS["en"]))
    day = rng.randint(1, 28)
    month = _MONTHS[lang][month_index]
    if lang == "en":
        date = rng.choice([f"{day} {month}", f"{month} {day}", f"{day:02d}/{month_index + 1:02d}"])
    else:
        date = rng.choice([f"{day} de {month}", f"{day:02d}/{month_index + 1:02d}", f"{day} de {month}"])
    return {
        "order": order,
        "amount": amount(),
        "amount2": amount(),
        "product": rng.choice(_PRODUCTS[lang]),
        "device": rng.choice(_DEVICES[lang]),
        "month": month,
        "date": date,
        "days": str(rng.randint(3, 30)),
        "carrier": rng.choice(_CARRIERS),
        "plan": rng.choice(_PLANS),
        "errcode": rng.choice(
            [f"E{rng.randint(100, 999)}", f"0x{rng.randint(0x1000, 0xFFFF):X}", str(rng.randint(400, 599))]
        ),
        "pct": str(rng.randint(10, 99)),
    }


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    k = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]  # swap two letters
    elif kind == 1:
        w = w[:k] + w[k + 1 :]  # drop a letter
    else:
        w = w[:k] + w[k] + w[k:]  # double a letter
    words[i] = w
    return " ".join(words)


_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1] in ".!?:," else text + "."


def _message(rng: random.Random) -> tuple[str, str, str]:
    lang = "en" if rng.random() < 0.5 else "es"
    slots = _slots(rng, lang)
    if rng.random() < 0.06:
        queue = rng.choice(QUEUES)
        body = rng.choice(_VAGUE[lang])
    else:
        queue = rng.choices(QUEUES, weights=_QUEUE_WEIGHTS)[0]
        body = rng.choice(_TEMPLATES[lang][queue])
    parts: list[str] = []
    body = _sentence(body.format(**slots))
    if rng.random() < 0.45:
        # Mostly in the message's language, sometimes code-switched.
        opener_lang = lang if rng.random() < 0.9 else ("es" if lang == "en" else "en")
        opener = rng.choice(_OPENERS[opener_lang])
        parts.append(opener)
        if opener.endswith(",") and body[1:2].islower():
            body = body[0].lower() + body[1:]
    parts.append(body)
    if rng.random() < 0.3:
        parts.append(rng.choice(_CONTEXT[lang]).format(**slots))
    if rng.random() < 0.12:
        other = rng.choice([q for q in QUEUES if q != queue])
        second = rng.choice(_TEMPLATES[lang][other]).format(**_slots(rng, lang))
        parts.append(f"{rng.choice(_SECOND_ISSUE[lang])} {second[0].lower()}{second[1:]}")
        parts[-1] = _sentence(parts[-1])
    if rng.random() < 0.4:
        parts.append(rng.choice(_CLOSERS[lang]))
    text = " ".join(parts)
    if rng.random() < 0.3:
        text = _typo(rng, text)
        if rng.random() < 0.3:
            text = _typo(rng, text)
    if lang == "es" and rng.random() < 0.3:
        text = text.translate(_ACCENTS).replace("¿", "").replace("¡", "")
    if rng.random() < 0.12:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip(".!")
    return text, queue, lang


def ticket_messages(n: int, seed: int) -> list[tuple[str, str, str]]:
    """`n` customer messages as `(text, queue, language)`, a pure function of `seed`.

    Languages are `en` and `es` (about half each); queues are those in `QUEUES`.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = random.Random(f"candor.tickets/{seed}")
    return [_message(rng) for _ in range(n)]


# --------------------------------------------------------------------------------------
# Refund requests
# --------------------------------------------------------------------------------------

AGE_BANDS: tuple[str, ...] = ("18-34", "35-64", "65+")
GENDERS: tuple[str, ...] = ("female", "male", "undisclosed")
CHANNELS: tuple[str, ...] = ("web", "app", "phone", "email", "chat")
ITEM_CATEGORIES: tuple[str, ...] = ("electronics", "clothing", "home", "grocery", "beauty")
DELIVERY_STATUSES: tuple[str, ...] = ("delivered", "late", "lost", "damaged")
RETURN_REASONS: tuple[str, ...] = ("damaged", "wrong_item", "not_as_described", "changed_mind", "late_delivery")
PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "bank_transfer", "cash_on_delivery")
REFUND_LABELS: tuple[str, ...] = ("deny", "approve")

REFUND_FEATURES: dict[str, dict[str, Any]] = {
    "order_value": {"type": "number", "minimum": 1, "maximum": 5000},
    "days_since_delivery": {"type": "integer", "minimum": 0, "maximum": 365},
    "prior_refunds_12m": {"type": "integer", "minimum": 0, "maximum": 20},
    "account_age_days": {"type": "integer", "minimum": 0, "maximum": 7300},
    "orders_12m": {"type": "integer", "minimum": 0, "maximum": 200},
    "previous_complaints": {"type": "integer", "minimum": 0, "maximum": 50},
    "channel": {"type": "category", "categories": CHANNELS},
    "item_category": {"type": "category", "categories": ITEM_CATEGORIES},
    "delivery_status": {"type": "category", "categories": DELIVERY_STATUSES},
    "return_reason": {"type": "category", "categories": RETURN_REASONS},
    "payment_method": {"type": "category", "categories": PAYMENT_METHODS},
    "is_member": {"type": "boolean"},
}
"""The twelve model inputs, in model column order, with their ranges and categories."""

_AGE_P = (0.36, 0.44, 0.20)
# Channel and payment habits by age band (the proxy that carries the bias).
_CHANNEL_P = {  # web, app, phone, email, chat
    "18-34": (0.30, 0.42, 0.05, 0.05, 0.18),
    "35-64": (0.38, 0.25, 0.15, 0.12, 0.10),
    "65+": (0.20, 0.06, 0.50, 0.20, 0.04),
}
_PAYMENT_P = {  # card, paypal, bank_transfer, cash_on_delivery
    "18-34": (0.50, 0.35, 0.07, 0.08),
    "35-64": (0.55, 0.22, 0.13, 0.10),
    "65+": (0.30, 0.05, 0.20, 0.45),
}
_CATEGORY_P = (0.28, 0.30, 0.20, 0.10, 0.12)
_STATUS_P = (0.68, 0.15, 0.06, 0.11)
_REASON_P_BY_STATUS = {  # damaged, wrong_item, not_as_described, changed_mind, late_delivery
    "delivered": (0.12, 0.18, 0.28, 0.40, 0.02),
    "late": (0.05, 0.10, 0.15, 0.25, 0.45),
    "lost": (0.02, 0.08, 0.05, 0.10, 0.75),
    "damaged": (0.85, 0.03, 0.07, 0.03, 0.02),
}

_MEDIAN_VALUE = {"electronics": 180.0, "clothing": 55.0, "home": 90.0, "grocery": 35.0, "beauty": 30.0}

_STATUS_EFFECT = {"delivered": 0.0, "late": 0.6, "lost": 3.0, "damaged": 2.4}
_REASON_EFFECT = {
    "damaged": 1.1,
    "wrong_item": 1.3,
    "not_as_described": 0.6,
    "changed_mind": -0.7,
    "late_delivery": 0.4,
}
_CATEGORY_EFFECT = {"electronics": -0.3, "clothing": 0.3, "home": 0.0, "grocery": 0.4, "beauty": -0.1}
_CHANNEL_BIAS = {"phone": -2.2}
_PAYMENT_BIAS = {"cash_on_delivery": -2.2}


def _approval_logit(x: dict[str, Any]) -> float:
    """The historical decision rule (before noise), including the planted bias."""
    z = 0.9
    z += _STATUS_EFFECT[x["delivery_status"]]
    z += _REASON_EFFECT[x["return_reason"]]
    z += _CATEGORY_EFFECT[x["item_category"]]
    # The return window: past 30 days refunds get hard to justify.
    z -= max(0, x["days_since_delivery"] - 30) / 12.0
    z -= 0.75 * max(0, x["prior_refunds_12m"] - 1)
    z -= 0.35 * x["previous_complaints"]
    z += 0.35 * math.log1p(x["account_age_days"] / 365.0)
    z += 0.6 if x["is_member"] else 0.0
    z -= 0.6 * max(0.0, math.log10(x["order_value"] / 150.0))
    z += 0.02 * min(x["orders_12m"], 30)
    # Planted bias: stricter phone agents and cash-on-delivery desk.
    z += _CHANNEL_BIAS.get(x["channel"], 0.0)
    z += _PAYMENT_BIAS.get(x["payment_method"], 0.0)
    return z


def refund_requests(n: int, seed: int) -> list[dict[str, Any]]:
    """`n` refund requests `{"inputs", "segments", "label"}`, a pure function of `seed`.

    `inputs` holds the twelve features of `REFUND_FEATURES` with raw values (numbers,
    category names, booleans); `segments` the fairness attributes `age_band` and
    `gender` (never model inputs); `label` the historical decision. See the module
    docstring for the planted proxy bias against the 65+ age band.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = np.random.default_rng(np.random.SeedSequence([0xCA4D02, seed]))
    age = rng.choice(len(AGE_BANDS), size=n, p=_AGE_P)
    gender = rng.choice(len(GENDERS), size=n, p=(0.48, 0.48, 0.04))
    status = rng.choice(len(DELIVERY_STATUSES), size=n, p=_STATUS_P)
    reason = _conditional_choice(rng, status, [_REASON_P_BY_STATUS[s] for s in DELIVERY_STATUSES])
    category = rng.choice(len(ITEM_CATEGORIES), size=n, p=_CATEGORY_P)
    channel = _conditional_choice(rng, age, [_CHANNEL_P[a] for a in AGE_BANDS])
    payment = _conditional_choice(rng, age, [_PAYMENT_P[a] for a in AGE_BANDS])
    young = age == 0

    median_value = np.array([_MEDIAN_VALUE[c] for c in ITEM_CATEGORIES])[category]
    order_value = np.clip(np.round(median_value * np.exp(rng.normal(0.0, 0.8, n)), 2), 1.0, 5000.0)
    lost = status == DELIVERY_STATUSES.index("lost")
    usual_days = np.where(rng.random(n) < 0.85, rng.exponential(14.0, n), rng.uniform(30, 365, n))
    days = np.where(lost, rng.integers(0, 15, n), np.minimum(365, usual_days)).astype(np.int64)
    account_age = np.minimum(np.where(young, 3650, 7300), rng.gamma(2.0, np.where(young, 500.0, 900.0))).astype(
        np.int64
    )
    orders = np.minimum(200, rng.negative_binomial(2, 0.2, n))
    prior_refunds = np.minimum(
        20, np.where(rng.random(n) < 0.9, rng.poisson(0.25 + 0.04 * orders), rng.integers(3, 15, n))
    )
    complaints = np.minimum(50, np.where(rng.random(n) < 0.92, rng.poisson(0.4, n), rng.integers(2, 12, n)))
    member = rng.random(n) < np.where(young, 0.25, 0.35)
    noise = rng.normal(0.0, 0.9, n)

    out: list[dict[str, Any]] = []
    for i in range(n):
        x: dict[str, Any] = {
            "order_value": float(order_value[i]),
            "days_since_delivery": int(days[i]),
            "prior_refunds_12m": int(prior_refunds[i]),
            "account_age_days": int(account_age[i]),
            "orders_12m": int(orders[i]),
            "previous_complaints": int(complaints[i]),
            "channel": CHANNELS[channel[i]],
            "item_category": ITEM_CATEGORIES[category[i]],
            "delivery_status": DELIVERY_STATUSES[status[i]],
            "return_reason": RETURN_REASONS[reason[i]],
            "payment_method": PAYMENT_METHODS[payment[i]],
            "is_member": bool(member[i]),
        }
        label = REFUND_LABELS[int(_approval_logit(x) + noise[i] > 0)]
        segments = {"age_band": AGE_BANDS[age[i]], "gender": GENDERS[gender[i]]}
        out.append({"inputs": x, "segments": segments, "label": label})
    return out


def _conditional_choice(
    rng: np.random.Generator, given: np.ndarray, probabilities: list[tuple[float, ...]]
) -> np.ndarray:
    """Per row, an index drawn from `probabilities[given[row]]` (inverse-CDF sampling)."""
    cumulative = np.cumsum(np.array(probabilities), axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(len(given))
    return (u[:, None] >= cumulative[given]).sum(axis=1)
