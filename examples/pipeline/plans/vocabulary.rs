//! What plans are written from: the axes with their institutions, indicators and outputs, and
//! the names of places and people.

/// A strategic axis of a plan: its theme, who runs it, what it measures and what it delivers.
pub(crate) struct Axis {
    pub(crate) name: &'static str,
    pub(crate) entity: &'static str,
    pub(crate) programme: &'static str,
    pub(crate) indicators: &'static [Indicator],
    pub(crate) outputs: &'static [&'static str],
}

/// An indicator, and whether the plan wants it to rise.
pub(crate) struct Indicator {
    pub(crate) name: &'static str,
    pub(crate) rises: bool,
}

pub(crate) const fn up(name: &'static str) -> Indicator {
    Indicator { name, rises: true }
}

const fn down(name: &'static str) -> Indicator {
    Indicator { name, rises: false }
}

pub(crate) const AXES: &[Axis] = &[
    Axis {
        name: "Health and social protection",
        entity: "Secretariat of Health",
        programme: "Healthy Territory",
        indicators: &[
            up("vaccination coverage"),
            down("infant mortality rate"),
            up("access to primary care"),
        ],
        outputs: &[
            "construction of health posts",
            "purchase of ambulances",
            "training of community health workers",
        ],
    },
    Axis {
        name: "Quality education",
        entity: "Secretariat of Education",
        programme: "Learning Without Borders",
        indicators: &[
            up("school enrolment"),
            down("school dropout rate"),
            up("secondary completion rate"),
        ],
        outputs: &[
            "construction of classrooms",
            "delivery of school meals",
            "training of rural teachers",
        ],
    },
    Axis {
        name: "Water and basic sanitation",
        entity: "Municipal Water Utility",
        programme: "Water for Everyone",
        indicators: &[
            up("drinking water coverage"),
            up("sewerage coverage"),
            down("waterborne disease incidence"),
        ],
        outputs: &[
            "construction of rural aqueducts",
            "installation of water treatment plants",
            "rehabilitation of sewer networks",
        ],
    },
    Axis {
        name: "Roads and connectivity",
        entity: "Secretariat of Infrastructure",
        programme: "Roads for Peace",
        indicators: &[
            up("rural road connectivity"),
            down("travel time to markets"),
        ],
        outputs: &[
            "rehabilitation of tertiary roads",
            "construction of footbridges",
            "maintenance of rural roads",
        ],
    },
    Axis {
        name: "Rural development",
        entity: "Secretariat of Rural Development",
        programme: "Thriving Countryside",
        indicators: &[
            up("farm household income"),
            up("land formalisation rate"),
            down("post-harvest losses"),
        ],
        outputs: &[
            "delivery of productive projects",
            "installation of irrigation districts",
            "training of farmer associations",
        ],
    },
    Axis {
        name: "Peace and coexistence",
        entity: "Secretariat of Government",
        programme: "Living Together",
        indicators: &[down("homicide rate"), up("victims with reparation")],
        outputs: &[
            "training of community mediators",
            "construction of a peace house",
            "delivery of reparation programmes",
        ],
    },
    Axis {
        name: "Environment and climate",
        entity: "Environmental Management Office",
        programme: "Green Territory",
        indicators: &[up("forest cover"), down("deforestation rate")],
        outputs: &[
            "restoration of degraded watersheds",
            "delivery of environmental brigades",
            "installation of early warning systems",
        ],
    },
    Axis {
        name: "Housing and energy",
        entity: "Municipal Housing Institute",
        programme: "A Home for Everyone",
        indicators: &[down("housing deficit"), up("households with electricity")],
        outputs: &[
            "construction of rural homes",
            "installation of solar panels",
            "improvement of existing homes",
        ],
    },
];

pub(crate) const MUNICIPALITIES: &[&str] = &[
    "San Rafael",
    "El Carmen",
    "Santa Rosa",
    "La Esperanza",
    "Puerto Nuevo",
    "Villa del Río",
    "San Vicente",
    "Tierralta",
    "Río Claro",
    "Mesetas",
    "Belén de los Andaquíes",
    "Ovejas",
];
pub(crate) const DEPARTMENTS: &[&str] = &[
    "Antioquia",
    "Caquetá",
    "Cauca",
    "Meta",
    "Nariño",
    "Putumayo",
    "Chocó",
    "Bolívar",
    "Sucre",
];
pub(crate) const MAYORS: &[&str] = &[
    "Ana María Rojas",
    "Luis Fernando Gómez",
    "Claudia Patricia Ruiz",
    "Jorge Eliécer Martínez",
    "Diana Marcela Peña",
    "Óscar Iván Torres",
];
pub(crate) const MOTTOS: &[&str] = &[
    "Together we build the future",
    "A territory of opportunities",
    "Peace, progress and people",
    "Our land, our commitment",
];
pub(crate) const IMPACTS: &[&str] = &[
    "better quality of life in rural areas",
    "less extreme poverty",
    "greater well-being of vulnerable households",
    "lasting territorial peace",
];
